// Where Rap-as-Code files come from: a local folder or an S3 bucket, behind one small interface.

export interface ObjectRef {
  /** `s3://bucket/key` or a local path: what messages and reports call the file. */
  uri: string;
  bucket?: string;
  key: string;
  etag?: string;
  size: number;
  /**
   * When this version of the object was written to the store (S3 Last-Modified; whole seconds when
   * read with a HEAD request): the version time split passes on, which the CQL sink writes with.
   */
  lastModified?: Date;
}

export interface ObjectSource {
  list(): AsyncIterable<ObjectRef>;
  /** The whole object; callers check `ref.size` against their limit before asking. */
  read(ref: ObjectRef): Promise<Uint8Array>;
}

export const RAP_FILE = /\.ya?ml$/i;
