/**
 * The tenant's external ID: read it (explicit value, stored copy, or the manager) and keep a copy;
 * read and change the manager's retrieval setting, never disabling retrieval without a readable
 * stored copy that matches the manager's ID.
 */
import type { Session } from "../app/session";
import { ExitCode, UsageError, UserError } from "../errors";
import { resolveExternalId } from "../external-id/resolve";
import { describeLocation } from "../external-id/source";
import { parseLocation, writeStored } from "../external-id/store";
import { EXTERNAL_ID_RETRIEVAL_SETTING } from "../manager/types";
import { maskExternalId } from "../redact";

export interface GetExternalIdOptions {
  /** Also store the ID here: `ssm:<parameter>`, `secretsmanager:<secret>` or `file:<path>`. @default not stored */
  readonly store?: string;
  /** Replace a file that holds something other than this ID. @default false */
  readonly force?: boolean;
}

export interface ExternalIdReport {
  readonly externalId: string;
  /** Where the ID came from (never the ID itself). */
  readonly source: string;
  /** Where it was stored, if asked. */
  readonly storedIn?: string;
}

export async function getExternalId(session: Session, options: GetExternalIdOptions = {}): Promise<ExternalIdReport> {
  const target = options.store === undefined ? undefined : parseLocation(options.store, "store");
  const { externalId, source } = await resolveExternalId(session.externalIdSources());
  session.log.debug(`external ID ${maskExternalId(externalId)} from ${source}`);
  if (!target) return { externalId, source };
  await writeStored(target, externalId, { force: options.force });
  return { externalId, source, storedIn: describeLocation(target) };
}

export const RETRIEVAL_ACTIONS = ["status", "enable", "disable", "reset"] as const;
export type RetrievalAction = (typeof RETRIEVAL_ACTIONS)[number];

export interface RetrievalReport {
  readonly setting: string;
  readonly value: string;
  readonly enabled: boolean;
  readonly changed: boolean;
  /** The stored copy checked before disabling, if any. */
  readonly storedCopy?: string;
}

export async function retrievalSetting(
  session: Session,
  action: RetrievalAction,
  options: { force?: boolean } = {},
): Promise<RetrievalReport> {
  const client = session.manager();
  const report = (value: string, changed: boolean, storedCopy?: string): RetrievalReport => ({
    setting: EXTERNAL_ID_RETRIEVAL_SETTING,
    value,
    enabled: value === "true",
    changed,
    storedCopy,
  });
  switch (action) {
    case "status":
      return report(await client.getSetting(EXTERNAL_ID_RETRIEVAL_SETTING), false);
    case "enable":
      return report(await client.setSetting(EXTERNAL_ID_RETRIEVAL_SETTING, "true"), true);
    case "reset":
      return report(await client.resetSetting(EXTERNAL_ID_RETRIEVAL_SETTING), true);
    case "disable": {
      const sources = session.externalIdSources();
      if (!sources.from) {
        if (!options.force) {
          throw new UsageError(
            "Refusing to disable retrieval: no stored copy of the external ID was named, so nobody could read the ID afterwards. Store the ID first, then disable retrieval naming the stored copy.",
            { errorCode: "retrieval-disable-without-stored-copy" },
          );
        }
        session.log.warn("disabling retrieval without a verified stored copy of the external ID (forced)");
        return report(await client.setSetting(EXTERNAL_ID_RETRIEVAL_SETTING, "false"), true);
      }
      const stored = await resolveExternalId({ from: sources.from });
      session.log.addSecret(stored.externalId);
      const current = await client.getExternalId().catch((error: unknown) => {
        if (error instanceof UserError && error.exitCode === ExitCode.refused) return undefined; // already disabled
        throw error;
      });
      if (current !== undefined && current !== stored.externalId) {
        throw new UserError(
          `The stored copy at ${stored.source} (${maskExternalId(stored.externalId)}) differs from the manager's external ID (${maskExternalId(current)}); retrieval stays enabled. Store the current ID there first.`,
          ExitCode.failed,
          { errorCode: "retrieval-stored-copy-differs", data: { storedCopy: stored.source } },
        );
      }
      if (current === undefined)
        session.log.warn(
          "the manager did not return the external ID (retrieval may already be off), so the stored copy could not be compared with it",
        );
      return report(await client.setSetting(EXTERNAL_ID_RETRIEVAL_SETTING, "false"), true, stored.source);
    }
  }
}
