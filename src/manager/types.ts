/**
 * The manager API's objects, as the vendor's OpenAPI description (spec 50.0.827) names them.
 */

export interface AWSRegion {
  region?: string;
  computersSynced?: number;
  workspacesSynced?: number;
}

export interface AWSConnector {
  displayName?: string;
  accountId?: string;
  accountAlias?: string;
  accessKey?: string;
  /** Write-only: never returned. */
  secretKey?: string;
  seedRegion?: string;
  useInstanceRole?: boolean;
  crossAccountRoleArn?: string;
  /** Milliseconds since the epoch. */
  lastSyncTime?: number;
  syncedRegions?: AWSRegion[];
  workspacesEnabled?: boolean;
  /** Read-only. */
  ID?: number;
}

export interface AWSConnectors {
  awsConnectors?: AWSConnector[];
}

export interface AwsConnectorSettings {
  externalId?: string;
}

export interface SettingValue {
  value?: string;
}

export type NumericTest = "less-than" | "less-than-or-equal" | "equal" | "greater-than-or-equal" | "greater-than" | "not-equal";

export interface SearchCriteria {
  fieldName?: string;
  booleanTest?: boolean;
  numericTest?: NumericTest;
  numericValue?: number;
  stringTest?: "equal" | "not-equal";
  stringValue?: string;
  stringWildcards?: boolean;
  idTest?: NumericTest;
  idValue?: number;
  [other: string]: unknown;
}

export interface SearchFilter {
  maxItems?: number;
  searchCriteria?: SearchCriteria[];
  sortByObjectID?: boolean;
}

export interface ApiKeyCurrent {
  keyName?: string;
  description?: string;
  locale?: "en-US" | "ja-JP";
  roleID?: number;
  timeZone?: string;
  active?: boolean;
  created?: number;
  lastSignIn?: number;
  unlockTime?: number;
  unsuccessfulSignInAttempts?: number;
  expiryDate?: number;
  serviceAccount?: boolean;
  roleURN?: string;
  tenantID?: number;
  tenantGUID?: string;
  cloudOneAccountID?: string;
  ID?: number;
}

/** The system setting behind "Enable retrieval and viewing of AWS external ID". */
export const EXTERNAL_ID_RETRIEVAL_SETTING = "platformSettingAwsExternalIdRetrievalEnabled";

export const API_VERSION = "v1";
