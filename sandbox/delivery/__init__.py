"""Getting the project's files into Airflow the way MWAA does."""
