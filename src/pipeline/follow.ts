// Event-driven split: MinIO "object created" events from Kafka, each new Rap-as-Code object split as it lands.

/** The objects an S3 event record names (MinIO sends the AWS event format; keys are URL-encoded). */
export function objectsOfEvent(value: Buffer | null): { bucket: string; key: string; etag?: string }[] {
  if (!value) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return [];
  }
  const records = (parsed as { Records?: unknown }).Records;
  if (!Array.isArray(records)) return [];
  const out: { bucket: string; key: string; etag?: string }[] = [];
  for (const r of records as { eventName?: string; s3?: { bucket?: { name?: string }; object?: { key?: string; eTag?: string } } }[]) {
    if (!r.eventName?.startsWith('s3:ObjectCreated:')) continue;
    const bucket = r.s3?.bucket?.name;
    const key = r.s3?.object?.key;
    if (!bucket || !key) continue;
    out.push({ bucket, key: decodeURIComponent(key.replace(/\+/g, ' ')), etag: r.s3?.object?.eTag });
  }
  return out;
}

/** Only the inbox: a shared events topic carries other buckets' and prefixes' events too. */
export function wanted(o: { bucket: string; key: string }, bucket: string, prefix: string): boolean {
  return o.bucket === bucket && o.key.startsWith(prefix) && /\.ya?ml$/i.test(o.key);
}
