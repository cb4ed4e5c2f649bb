// MIME types of result files, from the file name alone (never by reading the file): the
// last extension, lower-cased, looked up in one explicit table; anything unknown is
// application/octet-stream. Only the last extension counts, so `x.fits.gz` and `x.tar.gz`
// are application/gzip: that is what the bytes are, and a client must gunzip them first.
// `.fz` (tile-compressed FITS) is still a FITS file, but its data sit in binary-table
// extensions rather than a primary image, hence application/fits rather than image/fits.

const BY_EXTENSION: Readonly<Record<string, string>> = {
  txt: 'text/plain',
  log: 'text/plain',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  json: 'application/json',
  xml: 'application/xml',
  votable: 'application/x-votable+xml',
  vot: 'application/x-votable+xml',
  fits: 'image/fits',
  fit: 'image/fits',
  fts: 'image/fits',
  fz: 'application/fits',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  html: 'text/html',
  htm: 'text/html',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  tar: 'application/x-tar',
  zip: 'application/zip',
  hdf5: 'application/x-hdf5',
  h5: 'application/x-hdf5',
  npy: 'application/octet-stream',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  md: 'text/markdown',
  parquet: 'application/vnd.apache.parquet',
};

export const DEFAULT_MIME_TYPE = 'application/octet-stream';

export function mimeTypeOf(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return DEFAULT_MIME_TYPE; // no extension, or a dot-file such as `.env`
  return BY_EXTENSION[base.slice(dot + 1).toLowerCase()] ?? DEFAULT_MIME_TYPE;
}
