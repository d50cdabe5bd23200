/**
 * One resolver for the tenant's external ID, used by every command and by the generator:
 * an explicit value first, then a stored copy, then the manager API.
 */
import { SettingError, UsageError } from "../errors";
import type { ManagerClient } from "../manager/client";
import { checkExternalId } from "../validation";
import { describeLocation, parseLocation, readStored, type StoredLocation } from "./store";

export interface ExternalIdSources {
  /** `--external-id` or `DS_EXTERNAL_ID`, and which of the two gave it. */
  readonly explicit?: { readonly value: string; readonly origin: string };
  /** `--external-id-from` or `DS_EXTERNAL_ID_FROM`. */
  readonly from?: { readonly location: string; readonly origin: string };
  /** Opens the manager client; called only when the ID must come from the API. */
  readonly manager?: () => ManagerClient;
}

export interface ResolvedExternalId {
  readonly externalId: string;
  /** Where it came from, for reports: `DS_EXTERNAL_ID`, `ssm:/ds/id`, `manager API`... */
  readonly source: string;
}

export async function resolveExternalId(sources: ExternalIdSources): Promise<ResolvedExternalId> {
  if (sources.explicit) {
    return { externalId: validated(sources.explicit.value.trim(), sources.explicit.origin), source: sources.explicit.origin };
  }
  if (sources.from) {
    const location: StoredLocation = parseLocation(sources.from.location, sources.from.origin, { allowEnv: true });
    const source = describeLocation(location);
    return { externalId: validated(await readStored(location), source), source };
  }
  if (!sources.manager) {
    throw new SettingError("externalId", "No external ID source: give the ID itself, a stored copy, or the manager's URL and an API key.");
  }
  const client = sources.manager();
  return { externalId: await client.getExternalId(), source: "manager API" };
}

function validated(value: string, source: string): string {
  const problem = checkExternalId(value);
  if (problem) throw new UsageError(`The external ID from ${source} ${problem.problem}. ${problem.fix}.`);
  return value;
}
