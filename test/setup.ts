import "cdktf/lib/testing/adapters/jest";
import { Testing } from "cdktf";

Testing.setupJest();

// The AWS SDK warns on Node 20 about its future releases; the pinned version supports Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

// The engine the construct tests run on (jest.config.js maps cdktf to cdktn when asked).
export const ENGINE = process.env.DS_ONBOARD_ENGINE ?? "cdktf";
