DROP VIEW station_labels;
