/** The registration outcomes that leave an account onboarded. */
export const REGISTERED: ReadonlySet<string> = new Set(["created", "updated", "unchanged", "synced"]);

/** What reconcile finds an account in. */
export const RECONCILE_STATES = ["to-onboard", "healthy", "drifted", "to-offboard", "offboarded", "kept"] as const;
export type ReconcileState = (typeof RECONCILE_STATES)[number];

/** A reconcile state that needs nothing more done (healthy, offboarded, or kept by the config's choice). */
export const settledState = (s: ReconcileState): boolean => s === "healthy" || s === "offboarded" || s === "kept";
