import { adviceFor } from "../advice";
import { defineCommand } from "../define";
import { doctorTable } from "../render";

export const doctorCommand = defineCommand({
  command: "doctor",
  describe: "Check the manager URL, TLS, the API key and its rights, and the AWS credentials in use",
  handler: async ({ io, session }) => {
    const { runDoctor } = require("../../workflows/doctor") as typeof import("../../workflows/doctor");
    const report = await runDoctor(session);
    const checks = report.checks.map(({ error, ...check }) => {
      const advice = error === undefined ? undefined : adviceFor(error);
      return advice ? { ...check, detail: `${check.detail} ${advice[0].toUpperCase()}${advice.slice(1)}.` } : check;
    });
    io.result({ ok: report.ok, checks }, doctorTable(checks));
    return report.exitCode;
  },
});
