"""Apache Airflow FAB auth-manager models (Flask-AppBuilder security tables) -- https://github.com/apache/airflow -- Apache-2.0."""
