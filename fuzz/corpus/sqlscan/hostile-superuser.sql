--
-- PostgreSQL database dump
--

\restrict Wn4XKu5BWiaBprYvvMsJ3Lb8NHHDwMGurkSkdv8viFE20cDL2p6kpBR8QAxvIRh

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

--
-- Name: mood; Type: TYPE; Schema: public; Owner: app
--

CREATE TYPE public.mood AS ENUM (
    'ok',
    'it''s fine'
);


ALTER TYPE public.mood OWNER TO app;

--
-- Name: bump(); Type: FUNCTION; Schema: public; Owner: app
--

CREATE FUNCTION public.bump() RETURNS trigger
    LANGUAGE plpgsql
    AS $_$
begin
  -- a comment with \! inside a body
  new.note := new.note || E' \\! ' || $q$quoted $$ text$q$;
  return new;
end $_$;


ALTER FUNCTION public.bump() OWNER TO app;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: ledger; Type: TABLE; Schema: public; Owner: app
--

CREATE TABLE public.ledger (
    id integer NOT NULL,
    note text,
    "odd ""name""" text,
    data bytea,
    j jsonb
);


ALTER TABLE public.ledger OWNER TO app;

--
-- Name: TABLE ledger; Type: COMMENT; Schema: public; Owner: app
--

COMMENT ON TABLE public.ledger IS 'a \ backslash, PROGRAM and \connect in a comment';


--
-- Name: m; Type: TABLE; Schema: public; Owner: app
--

CREATE TABLE public.m (
    x public.mood DEFAULT 'it''s fine'::public.mood
);


ALTER TABLE public.m OWNER TO app;

--
-- Name: s; Type: SEQUENCE; Schema: public; Owner: app
--

CREATE SEQUENCE public.s
    START WITH 5
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE public.s OWNER TO app;

--
-- Name: v; Type: VIEW; Schema: public; Owner: app
--

CREATE VIEW public.v AS
 SELECT ledger.id,
    ledger.note
   FROM public.ledger
  WHERE (ledger.note ~~ '%\%'::text);


ALTER TABLE public.v OWNER TO app;

--
-- Data for Name: ledger; Type: TABLE DATA; Schema: public; Owner: app
--

COPY public.ledger (id, note, "odd ""name""", data, j) FROM stdin;
1	back\\slash \\! and \\connect appdb	x	\\x00ff5c	{"a": "\\\\\\\\!"}
2	\\.	\N	\N	\N
3	COPY t TO PROGRAM 'id'	y	\N	[1, 2]
4	line\rcarriage\nnewline\ttab	z	\N	\N
5	$$ dollar $q$ -- not a comment /* nor this	w	\N	\N
6	ünïcödé ✓ 日本	v	\N	\N
\.


--
-- Data for Name: m; Type: TABLE DATA; Schema: public; Owner: app
--

COPY public.m (x) FROM stdin;
ok
\.


--
-- Name: s; Type: SEQUENCE SET; Schema: public; Owner: app
--

SELECT pg_catalog.setval('public.s', 5, false);


--
-- Name: ledger ledger_pkey; Type: CONSTRAINT; Schema: public; Owner: app
--

ALTER TABLE ONLY public.ledger
    ADD CONSTRAINT ledger_pkey PRIMARY KEY (id);


--
-- Name: ledger_expr_idx; Type: INDEX; Schema: public; Owner: app
--

CREATE INDEX ledger_expr_idx ON public.ledger USING btree (((note || '/* x */'::text)));


--
-- Name: ledger bump; Type: TRIGGER; Schema: public; Owner: app
--

CREATE TRIGGER bump BEFORE INSERT ON public.ledger FOR EACH ROW EXECUTE FUNCTION public.bump();


CREATE ROLE x SUPERUSER;
--
-- PostgreSQL database dump complete
--

\unrestrict Wn4XKu5BWiaBprYvvMsJ3Lb8NHHDwMGurkSkdv8viFE20cDL2p6kpBR8QAxvIRh

