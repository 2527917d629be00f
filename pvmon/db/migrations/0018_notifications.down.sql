DROP TABLE notification_alarms;
DROP TABLE notifications;
