/**
 * An independent proof of trust policies: AWS's evaluation logic as implemented by
 * @cloud-copilot/iam-simulate (AGPL; a devDependency used only here, never shipped).
 */
import { anonymousPrincipal, runSimulation, type Simulation } from "@cloud-copilot/iam-simulate";

export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

export interface AssumeRequest {
  /** The caller's ARN, or "anonymous". */
  readonly caller: string;
  readonly externalId?: string;
  readonly roleArn?: string;
}

const CALLER_MAY_ASSUME = {
  name: "caller-may-assume-any-role",
  policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", Resource: "*" }] },
};

/** What AWS would decide for sts:AssumeRole on a role with this trust policy. */
export async function simulateAssumeRole(trustPolicy: unknown, request: AssumeRequest): Promise<Decision> {
  const roleArn = request.roleArn ?? "arn:aws:iam::111122223333:role/DeepSecurityCrossAccountRole";
  const anonymous = request.caller === "anonymous";
  const simulation: Simulation = {
    request: {
      principal: anonymous ? anonymousPrincipal : request.caller,
      action: "sts:AssumeRole",
      resource: { resource: roleArn, accountId: roleArn.split(":")[4] },
      contextVariables: request.externalId === undefined ? {} : { "sts:ExternalId": request.externalId },
    },
    identityPolicies: anonymous ? [] : [CALLER_MAY_ASSUME],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: (typeof trustPolicy === "string" ? JSON.parse(trustPolicy) : trustPolicy) as Simulation["resourcePolicy"],
  } as Simulation;
  const response = await runSimulation(simulation, {});
  if (response.resultType === "error") throw new Error(`simulation error: ${JSON.stringify(response.errors)}`);
  return response.overallResult as Decision;
}

export interface IdentityRequest {
  /** The caller: a role session in the resource's account. */
  readonly caller: string;
  readonly action: string;
  readonly resource: string;
  /** Request context keys, e.g. `iam:PolicyARN`. */
  readonly context?: Readonly<Record<string, string>>;
}

/** What AWS would decide for a call by a principal whose only permissions are `policy` (same account, no resource policy). */
export async function simulateIdentityCall(policy: unknown, request: IdentityRequest): Promise<Decision> {
  const simulation: Simulation = {
    request: {
      principal: request.caller,
      action: request.action,
      resource: { resource: request.resource, accountId: request.caller.split(":")[4] },
      contextVariables: { ...(request.context ?? {}) },
    },
    identityPolicies: [{ name: "under-test", policy: (typeof policy === "string" ? JSON.parse(policy) : policy) as never }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  } as unknown as Simulation;
  const response = await runSimulation(simulation, {});
  if (response.resultType === "error") throw new Error(`simulation error: ${JSON.stringify(response.errors)}`);
  return response.overallResult as Decision;
}
