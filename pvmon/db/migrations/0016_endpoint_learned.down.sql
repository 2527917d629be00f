DROP TABLE endpoint_learned;
