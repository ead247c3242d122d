// ESLint for every TypeScript file of the program, its tests, the report, the policy pack and bootstrap.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", "**/node_modules/", "bin/", "charts-cache/", "scratch/"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        rules: {
            // Tests and the offline evaluator read untyped engine payloads and rendered manifests.
            "@typescript-eslint/no-explicit-any": "off",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
        },
    },
);
