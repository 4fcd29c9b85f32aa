--
-- PostgreSQL database dump
--

\restrict am3lfreH9jjSm4HOb6RvfNl745musZaHXwuTs7hEzzCFOPpurJIIOS2zheJY3wl

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

DROP DATABASE app;
--
-- Name: app; Type: DATABASE; Schema: -; Owner: app
--

CREATE DATABASE app WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C';


ALTER DATABASE app OWNER TO app;

\unrestrict am3lfreH9jjSm4HOb6RvfNl745musZaHXwuTs7hEzzCFOPpurJIIOS2zheJY3wl
\connect app
\restrict am3lfreH9jjSm4HOb6RvfNl745musZaHXwuTs7hEzzCFOPpurJIIOS2zheJY3wl

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: DATABASE app; Type: COMMENT; Schema: -; Owner: app
--

COMMENT ON DATABASE app IS 'hi';


--
-- Name: app; Type: DATABASE PROPERTIES; Schema: -; Owner: app
--

ALTER DATABASE app SET work_mem TO '8MB';


\unrestrict am3lfreH9jjSm4HOb6RvfNl745musZaHXwuTs7hEzzCFOPpurJIIOS2zheJY3wl
\connect app
\restrict am3lfreH9jjSm4HOb6RvfNl745musZaHXwuTs7hEzzCFOPpurJIIOS2zheJY3wl

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: sq; Type: SEQUENCE; Schema: public; Owner: app
--

CREATE SEQUENCE public.sq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE public.sq OWNER TO app;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: t; Type: TABLE; Schema: public; Owner: app
--

CREATE TABLE public.t (
    id integer NOT NULL,
    s text
);


ALTER TABLE public.t OWNER TO app;

--
-- Name: v; Type: VIEW; Schema: public; Owner: app
--

CREATE VIEW public.v AS
 SELECT t.id,
    t.s
   FROM public.t;


ALTER TABLE public.v OWNER TO app;

--
-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: app
--

COPY public.t (id, s) FROM stdin;
1	a\\b
2	x
\.


--
-- Name: sq; Type: SEQUENCE SET; Schema: public; Owner: app
--

SELECT pg_catalog.setval('public.sq', 1, false);


--
-- Name: t t_pkey; Type: CONSTRAINT; Schema: public; Owner: app
--

ALTER TABLE ONLY public.t
    ADD CONSTRAINT t_pkey PRIMARY KEY (id);


--
-- PostgreSQL database dump complete
--

\unrestrict am3lfreH9jjSm4HOb6RvfNl745musZaHXwuTs7hEzzCFOPpurJIIOS2zheJY3wl

