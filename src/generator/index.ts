/** `ds-onboard/generator`: synthesize onboarding projects from a config. */

export { loadConfig, parseConfig } from "../config/load";
export { configJsonSchema, configSchema, type OnboardingConfig } from "../config/schema";
export { deployCommands, type SynthesisResult, type SynthesizedStack, type SynthesizeOptions, synthesizeOnboarding } from "./synthesize";
