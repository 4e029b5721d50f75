// kafkajs' errors read into the facts every client gives (../errors.ts).
import kafkajs from 'kafkajs';
import { RapflowError } from '../../errors.js';
import { asRapflowError, causes, NETWORK } from '../errors.js';

// kafkajs is CommonJS and its error classes are not visible to ESM named imports.
const { KafkaJSConnectionError, KafkaJSError, KafkaJSGroupCoordinatorNotFound, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSSASLAuthenticationError } = kafkajs;

/** Decides what a kafkajs error means for us, looking through its wrappers. */
export function kafkaError(err: unknown, what: string): RapflowError {
  if (err instanceof RapflowError) return err;
  const chain = causes(err);
  const root = chain.at(-1);
  const protocol = chain.find((e): e is InstanceType<typeof KafkaJSProtocolError> => e instanceof KafkaJSProtocolError);
  return asRapflowError(
    {
      message: root instanceof Error ? root.message : String(root),
      credentialsRefused: chain.some((e) => e instanceof KafkaJSSASLAuthenticationError),
      ...(protocol?.type === 'UNKNOWN_TOPIC_OR_PARTITION' ? { missingTopic: protocol.message } : {}),
      ...(protocol && /AUTHORIZATION_FAILED$/.test(protocol.type) ? { notAuthorized: protocol.type } : {}),
      unavailable: chain.some(
        (e) =>
          e instanceof KafkaJSConnectionError ||
          e instanceof KafkaJSNumberOfRetriesExceeded ||
          e instanceof KafkaJSGroupCoordinatorNotFound ||
          (e instanceof KafkaJSError && e.retriable) ||
          (e instanceof Error && NETWORK.test(e.message)),
      ),
    },
    what,
    err,
  );
}
