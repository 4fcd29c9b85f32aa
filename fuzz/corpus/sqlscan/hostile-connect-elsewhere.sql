--
-- PostgreSQL database dump
--

CREATE DATABASE app;
\connect postgres
DROP TABLE t;

--
-- PostgreSQL database dump complete
--
