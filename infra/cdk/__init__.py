"""The AWS deployment of Custos (CDK v2); see the README, Deploying to AWS."""
