-- A station's public label. A household station is usually named after its owner
-- ("马涛敏户用电站"), so roles that see households masked, and Grafana, see it as its
-- village, kind and code instead; village and joint stations keep their own names.
CREATE VIEW station_labels AS
SELECT s.id AS station_id, s.code,
       CASE WHEN s.kind = 'household' THEN v.name || '户用电站 ' || s.code ELSE s.name END
           AS label
  FROM stations s JOIN villages v ON v.id = s.village_id;
GRANT SELECT ON station_labels TO pvmon_app;
