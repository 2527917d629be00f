DROP TABLE alarms;
DROP TABLE inverter_health;
