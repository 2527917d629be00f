-- the role stays (other databases of the cluster may use it); its grants here go
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM pvmon_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM pvmon_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM pvmon_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM pvmon_app;
REVOKE USAGE ON SCHEMA public FROM pvmon_app;
