DROP TABLE operating_states;
DROP TABLE readings;
