"""The end-to-end proof: produce -> Kafka -> consume -> Elasticsearch, checked against the truth."""
