// Lint with type information. A forgotten `await` on a ctx call is a bug, so floating promises are
// errors; handlers under services/ may not reach for ambient time, randomness or the environment.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", ".data/**", "shared/db/migrations/**", "bench/results/**"] },
  {
    files: ["**/*.ts"],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-console": "error",
    },
  },
  {
    files: ["services/workflows/**/*.ts", "services/transaction-processor/**/*.ts"],
    // Typed clients run in the caller's process, and steps.ts files hold the bodies of journaled
    // steps (run inside ctx.run, where reading the clock is a recorded side effect): neither is
    // handler code.
    ignores: ["services/**/client.ts", "services/**/steps.ts"],
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "Use ctx.date.now() inside handlers." },
        { object: "Math", property: "random", message: "Use ctx.rand inside handlers." },
        { object: "process", property: "env", message: "Configuration comes from loadConfig() in main.ts." },
      ],
      "no-restricted-globals": ["error", { name: "console", message: "Use ctx.console inside handlers." }],
    },
  },
  {
    // The console's browser script puts engine text on the page: only as text, never through an
    // HTML sink, and nothing is evaluated from strings.
    files: ["admin-api/console/**/*.js"],
    rules: {
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-restricted-properties": [
        "error",
        ...["innerHTML", "outerHTML", "insertAdjacentHTML", "createContextualFragment", "srcdoc"].map((property) => ({
          property,
          message: "Engine values go on the page as text (append, textContent).",
        })),
        ...["write", "writeln"].map((property) => ({ object: "document", property, message: "Engine values go on the page as text (append, textContent)." })),
      ],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts", "infra/**/*.ts"],
    rules: { "no-console": "off" },
  },
);
