// @platformatic/kafka's errors read into the facts every client gives (../errors.ts). Its errors
// carry a PLT_KFK_* code; protocol errors name the broker's error in `apiId`, and
// MultipleErrors (an AggregateError) wrap the attempts of a retried call.
import { AuthenticationError, NetworkError, ProtocolError, TimeoutError, UserError } from '@platformatic/kafka';
import { RapflowError } from '../../errors.js';
import { asRapflowError, causes, NETWORK } from '../errors.js';

export function kafkaError(err: unknown, what: string): RapflowError {
  if (err instanceof RapflowError) return err;
  const chain = causes(err);
  const protocols = chain.filter((e): e is ProtocolError => e instanceof ProtocolError);
  const apiIds = protocols.map((p) => String(p.apiId));
  const innermost = [...chain].reverse().find((e) => e instanceof Error && !(e instanceof AggregateError)) ?? chain.at(-1);
  // With topic auto-creation off, a send to a missing topic fails in the client itself (a UserError).
  const missing =
    protocols.find((p) => p.apiId === 'UNKNOWN_TOPIC_OR_PARTITION' || p.apiId === 'UNKNOWN_TOPIC_ID') ??
    chain.find((e): e is UserError => e instanceof UserError && /^Unknown topic/i.test(e.message));
  const refused = apiIds.find((id) => /AUTHORIZATION_FAILED$/.test(id));
  return asRapflowError(
    {
      message: innermost instanceof Error ? innermost.message : String(innermost),
      credentialsRefused: chain.some((e) => e instanceof AuthenticationError) || apiIds.includes('SASL_AUTHENTICATION_FAILED'),
      ...(missing ? { missingTopic: missing.message } : {}),
      ...(refused ? { notAuthorized: refused } : {}),
      unavailable: chain.some(
        (e) =>
          e instanceof NetworkError ||
          e instanceof TimeoutError ||
          (e instanceof ProtocolError && e.canRetry === true) ||
          (e instanceof Error && NETWORK.test(e.message)),
      ),
    },
    what,
    err,
  );
}
