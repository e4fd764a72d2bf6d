# The installable libraries (docs/embedding.md), included by the Makefile.
#
#   libferry-migration  the migration core (migration/), with the generated
#                       C types of qapi/migration.json
#   libferry-block      the block layer it drives (block/)
#   libferry-agent      the host's bridge to a guest agent (agent/,
#                       include/ferry/agent.h): calls that survive the
#                       guest's migration
#
# Every host object is built with -fvisibility=hidden, so only FERRY_API
# declarations (include/ferry/) are exported.  Each library comes three
# ways:
#   $(BUILD)/libferry-NAME-int.a   the objects as they are: ferry and the
#                                  unit tests link it (internals visible)
#   $(BUILD)/lib/libferry-NAME.a   one relocatable object with the hidden
#                                  symbols made local, so an embedder's
#                                  `nm -g` shows the API only
#   $(BUILD)/lib/libferry-NAME.so.$(LIB_VERSION), soname .so.$(LIB_MAJOR)
# `make install PREFIX=DIR` puts them, the public headers and the
# pkg-config files (ferry-migration.pc, ferry-block.pc, ferry-agent.pc)
# under DIR.

LIB_MAJOR := 1
LIB_MINOR := 0
LIB_VERSION := $(LIB_MAJOR).$(LIB_MINOR).0
PREFIX ?= /usr/local

# The one option parser (file: URIs, -blockdev) and its JSON form.
KEYVAL_SRCS := util/keyval.c util/keyval-get.c util/keyval-json.c \
               util/json-parser.c util/json-writer.c

MIG_LIB_DIRS := migration migration/outgoing migration/incoming \
                migration/format migration/ram migration/transport migration/multifd
MIG_LIB_SRCS := $(foreach d,$(MIG_LIB_DIRS),$(wildcard $(d)/*.c)) \
                util/bitmap.c util/error.c util/size.c util/thread.c \
                util/qapi-enum.c io/socket.c io/socket-address.c \
                $(KEYVAL_SRCS)
MIG_LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(MIG_LIB_SRCS)) \
                $(BUILD)/qapi/qapi-types-migration.o \
                $(BUILD)/qapi/qapi-builtin-types.o
MIG_LIB_PKGS := glib-2.0 json-glib-1.0 gnutls zlib libzstd libisal
MIG_LIB_PRIVATE := json-glib-1.0 gnutls zlib libzstd libisal

BLK_LIB_SRCS := $(wildcard block/*.c) util/error.c util/size.c $(KEYVAL_SRCS)
BLK_LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(BLK_LIB_SRCS))
BLK_LIB_PKGS := glib-2.0 json-glib-1.0 liburing libcurl
BLK_LIB_PRIVATE := json-glib-1.0 liburing libcurl

AGENT_LIB_SRCS := $(wildcard agent/*.c)
AGENT_LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(AGENT_LIB_SRCS))
AGENT_LIB_PKGS := glib-2.0 json-glib-1.0

# What a sanitizer build's libraries need from their users too.
ifeq ($(ASAN),yes)
LIB_SAN := -fsanitize=address,undefined
endif

INT_LIBS := $(BUILD)/libferry-block-int.a $(BUILD)/libferry-migration-int.a \
            $(BUILD)/libferry-agent-int.a
INSTALL_LIBS := $(foreach l,migration block agent,$(BUILD)/lib/libferry-$(l).a \
                  $(BUILD)/lib/libferry-$(l).so.$(LIB_VERSION))

# Each library is remade when its list of objects changes too.
$(BUILD)/libferry-migration-int.a: $(MIG_LIB_OBJS) mk/libraries.mak
$(BUILD)/libferry-block-int.a: $(BLK_LIB_OBJS) mk/libraries.mak
$(BUILD)/libferry-agent-int.a: $(AGENT_LIB_OBJS) mk/libraries.mak
$(INT_LIBS):
	@rm -f $@
	ar rcs $@ $(filter %.o,$^)

# One object, its hidden symbols local: the static archive exports what
# the shared library exports.
$(BUILD)/lib/libferry-migration.a: $(MIG_LIB_OBJS) mk/libraries.mak
$(BUILD)/lib/libferry-block.a: $(BLK_LIB_OBJS) mk/libraries.mak
$(BUILD)/lib/libferry-agent.a: $(AGENT_LIB_OBJS) mk/libraries.mak
$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	$(LD) -r -o $(@:.a=.o) $(filter %.o,$^)
	objcopy --localize-hidden $(@:.a=.o)
	ar rcs $@ $(@:.a=.o)
	@rm -f $(@:.a=.o)

$(BUILD)/lib/libferry-migration.so.$(LIB_VERSION): $(MIG_LIB_OBJS) \
        mk/libraries.mak
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libferry-migration.so.$(LIB_MAJOR) \
	    -Wl,--no-undefined $(HOST_LDFLAGS) -o $@ $(filter %.o,$^) \
	    $(shell pkg-config --libs $(MIG_LIB_PKGS)) -lm
	ln -sf $(notdir $@) $(dir $@)libferry-migration.so.$(LIB_MAJOR)
	ln -sf $(notdir $@) $(dir $@)libferry-migration.so

$(BUILD)/lib/libferry-block.so.$(LIB_VERSION): $(BLK_LIB_OBJS) \
        mk/libraries.mak
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libferry-block.so.$(LIB_MAJOR) \
	    -Wl,--no-undefined $(HOST_LDFLAGS) -o $@ $(filter %.o,$^) \
	    $(shell pkg-config --libs $(BLK_LIB_PKGS)) -lm
	ln -sf $(notdir $@) $(dir $@)libferry-block.so.$(LIB_MAJOR)
	ln -sf $(notdir $@) $(dir $@)libferry-block.so

$(BUILD)/lib/libferry-agent.so.$(LIB_VERSION): $(AGENT_LIB_OBJS) \
        mk/libraries.mak
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libferry-agent.so.$(LIB_MAJOR) \
	    -Wl,--no-undefined $(HOST_LDFLAGS) -o $@ $(filter %.o,$^) \
	    $(shell pkg-config --libs $(AGENT_LIB_PKGS))
	ln -sf $(notdir $@) $(dir $@)libferry-agent.so.$(LIB_MAJOR)
	ln -sf $(notdir $@) $(dir $@)libferry-agent.so

# The pkg-config file for PREFIX: the installed headers live in
# PREFIX/include/ferry, the generated ones in its qapi/ and util/.
define pc_file
prefix=$(PREFIX)
includedir=$${prefix}/include
libdir=$${prefix}/lib

Name: ferry-$(1)
Description: $(2)
Version: $(VERSION)
Requires: glib-2.0 $(4)
Requires.private: $(3)
Cflags: -I$${includedir} -I$${includedir}/ferry $(LIB_SAN)
Libs: -L$${libdir} -lferry-$(1) $(LIB_SAN)
Libs.private: -pthread -lm
endef

libs: $(INSTALL_LIBS)

PUBLIC_HEADERS := $(wildcard include/ferry/*.h)
GEN_HEADERS := $(BUILD)/qapi/qapi-types-migration.h \
               $(BUILD)/qapi/qapi-builtin-types.h

INSTALL_PC := $(DESTDIR)$(PREFIX)/lib/pkgconfig

install-dirs:
	install -d $(DESTDIR)$(PREFIX)/include/ferry/qapi \
	    $(DESTDIR)$(PREFIX)/include/ferry/util $(INSTALL_PC)

# The pkg-config files are written for this PREFIX ($(file) expands when
# the recipe runs, after install-dirs).
install: libs install-dirs
	$(file > $(INSTALL_PC)/ferry-migration.pc,$(call pc_file,migration,ferry's live-migration core for an embedding VMM,$(MIG_LIB_PRIVATE)))
	$(file > $(INSTALL_PC)/ferry-block.pc,$(call pc_file,block,ferry's block layer (attach/activate; image locks; file/http/blkdelay drivers),$(BLK_LIB_PRIVATE)))
	$(file > $(INSTALL_PC)/ferry-agent.pc,$(call pc_file,agent,ferry's guest-agent bridge (calls that survive a migration),,json-glib-1.0))
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(PREFIX)/include/ferry/
	install -m 644 $(GEN_HEADERS) $(DESTDIR)$(PREFIX)/include/ferry/qapi/
	install -m 644 include/util/qapi-enum.h \
	    $(DESTDIR)$(PREFIX)/include/ferry/util/
	install -m 644 $(BUILD)/lib/libferry-migration.a \
	    $(BUILD)/lib/libferry-block.a $(BUILD)/lib/libferry-agent.a \
	    $(DESTDIR)$(PREFIX)/lib/
	cp -P $(BUILD)/lib/libferry-*.so* $(DESTDIR)$(PREFIX)/lib/

.PHONY: libs install install-dirs
