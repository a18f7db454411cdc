"""MLflow tracking store schema -- https://github.com/mlflow/mlflow -- Apache-2.0."""
