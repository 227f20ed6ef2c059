# nps: PGXS build.  The install scripts are assembled from schema/<version>/*.sql
# (one file per concern) so that a version's script is never edited by hand in
# one big file; nps--0.1.0.sql is the first release, later versions are reached
# through upgrade scripts only, so a fresh install and an upgrade run the same SQL.
EXTENSION = nps
MODULE_big = nps
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

DATA_built = nps--0.1.0.sql nps--0.1.0--0.2.0.sql nps--0.2.0--0.3.0.sql nps--0.3.0--0.4.0.sql nps--0.4.0--0.5.0.sql nps--0.5.0--0.6.0.sql nps--0.6.0--0.7.0.sql nps--0.7.0--0.8.0.sql

REGRESS = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --temp-config=$(srcdir)/regress.conf

PG_CPPFLAGS = -I$(srcdir)/include $(shell pkg-config --cflags libsmpp34)
SHLIB_LINK = $(shell pkg-config --libs libsmpp34)
EXTRA_CLEAN = sim/nps-smsc-sim bench/smpp-blast

# No LLVM bitcode: the build then needs no clang (a lighter CI) and loses nothing.
override with_llvm = no
# Rebuild objects when a header they include changes.
override autodepend = yes

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

nps--0.1.0.sql: $(sort $(wildcard schema/0.1.0/*.sql))
	cat $^ > $@

nps--0.1.0--0.2.0.sql: $(sort $(wildcard schema/0.2.0/*.sql))
	cat $^ > $@

nps--0.2.0--0.3.0.sql: $(sort $(wildcard schema/0.3.0/*.sql))
	cat $^ > $@

nps--0.3.0--0.4.0.sql: $(sort $(wildcard schema/0.4.0/*.sql))
	cat $^ > $@

nps--0.4.0--0.5.0.sql: $(sort $(wildcard schema/0.5.0/*.sql))
	cat $^ > $@

nps--0.5.0--0.6.0.sql: $(sort $(wildcard schema/0.6.0/*.sql))
	cat $^ > $@

nps--0.6.0--0.7.0.sql: $(sort $(wildcard schema/0.7.0/*.sql))
	cat $^ > $@

nps--0.7.0--0.8.0.sql: $(sort $(wildcard schema/0.8.0/*.sql))
	cat $^ > $@

# The SMSC simulator and the benchmark client (sim/Makefile) build with the extension.
ifneq ($(wildcard sim/Makefile),)
all: sim
.PHONY: sim
sim:
	$(MAKE) -C sim
clean: clean-sim
.PHONY: clean-sim
clean-sim:
	$(MAKE) -C sim clean
endif
