DROP TABLE maintenance_windows;
ALTER TABLE stations DROP COLUMN om_contractor;
