/**
 * Keeping secrets out of output. The API key is never shown; the external ID is shown
 * only by `external-id get` and masked to its last four characters everywhere else.
 */

/** `****wxyz`: enough to tell two IDs apart, not enough to use one. */
export function maskExternalId(id: string): string {
  return id.length <= 4 ? "****" : `****${id.slice(-4)}`;
}

/** Replaces every occurrence of each secret in `text`. Secrets shorter than 4 characters are ignored. */
export function redact(text: string, secrets: Iterable<string | undefined>, replacement = "[REDACTED]"): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join(replacement);
  }
  return out;
}
