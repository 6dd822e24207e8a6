/**
 * A `--store` URL as it may be shown: in logs, errors and the `serve` banner.
 *
 * @module store/store-url
 */

/** The URL without its credentials: `redis://:secret@host` is never echoed (rule 9). */
export function redactedStoreUrl(url: string): string {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*@/.test(url)) return url;
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString();
  } catch {
    return "the store URL";
  }
}
