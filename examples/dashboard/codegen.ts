// GraphQL Code Generator: types for every operation in src/*.graphql, checked against the
// repository's schema.graphql (generated from the server's code). A schema change that breaks
// an operation fails `npm run codegen`; one that changes a type the page relies on fails
// `npm run typecheck`.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["src/*.graphql"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        // A new custom scalar must be mapped here before the build passes.
        strictScalars: true,
        scalars: {
          Money: "string", // "1250.00": euros, two decimals; never do float arithmetic on it
          DateTime: "string", // RFC 3339 in UTC: new Date(value)
          Position: "string", // digits; compare as BigInt(value), not as text
          MoneyChange: "string", // "-200.00": like Money, with a minus sign when it went down
        },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
