/** `ds-onboard/generator`: synthesize onboarding projects from a config. */
export { synthesizeOnboarding, deployCommands, type SynthesizeOptions, type SynthesisResult, type SynthesizedStack } from "./synthesize";
export { loadConfig, parseConfig } from "../config/load";
export { configSchema, configJsonSchema, type OnboardingConfig } from "../config/schema";
