// Lint: typescript-eslint's recommended rules; formatting is Prettier's job.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "reports/", ".tools/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setImmediate: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        URL: "readonly",
        queueMicrotask: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-control-regex": "off",
    },
  },
  {
    // Tool configs that must be CommonJS (.dependency-cruiser.cjs).
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { module: "writable", require: "readonly" } },
  },
  {
    // A newcomer reads a file in one sitting and a function on one screen or two (ARCHITECTURE.md). The limits
    // count a function's nested closures too: shared mutable locals across closures is what they prevent.
    files: ["src/**/*.ts"],
    rules: {
      "max-lines": ["error", { max: 700, skipBlankLines: false, skipComments: false }],
      "max-lines-per-function": [
        "error",
        { max: 150, skipBlankLines: false, skipComments: false, IIFEs: true },
      ],
    },
  },
);
