/** The registration outcomes that leave an account onboarded. */
export const REGISTERED: ReadonlySet<string> = new Set(["created", "updated", "unchanged", "synced"]);
