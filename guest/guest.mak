# The test guest: freestanding x86-64 code in a Multiboot v1 ELF32 image
# (QEMU's -kernel only takes ELF32 Multiboot kernels, so the 64-bit link is
# converted with objcopy like kvm-unit-tests does).
GUEST_CC ?= $(CC)
GUEST_CFLAGS := -O2 -g -std=gnu11 -m64 -ffreestanding -fno-builtin -fno-pic \
        -fno-pie -mno-red-zone -fno-stack-protector -fno-asynchronous-unwind-tables \
        -fcf-protection=none -nostdinc -isystem $(shell $(GUEST_CC) -print-file-name=include) \
        -Iguest/include $(WARN) -Wno-missing-prototypes
GUEST_SRCS := $(wildcard guest/*.c) $(wildcard guest/workload/*.c)
GUEST_ASM := $(wildcard guest/*.S)
GUEST_OBJS := $(patsubst %.c,$(BUILD)/guest-obj/%.o,$(GUEST_SRCS)) \
              $(patsubst %.S,$(BUILD)/guest-obj/%.o,$(GUEST_ASM))

# Ring-0 code must not touch SSE: on this workplace's KVM guest ring 0 is
# emulated, and the emulator rejects SSE instructions.  Only the ring-3
# workload is built with vector code.
$(BUILD)/guest-obj/%.o: %.c $(BUILD)/config.mak
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -mgeneral-regs-only -MMD -MP -c -o $@ $<

$(BUILD)/guest-obj/guest/workload/%.o: guest/workload/%.c $(BUILD)/config.mak
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -O3 -MMD -MP -c -o $@ $<

$(BUILD)/guest-obj/%.o: %.S $(BUILD)/config.mak
	@mkdir -p $(dir $@)
	$(GUEST_CC) -m64 -Iguest/include -MMD -MP -c -o $@ $<

$(BUILD)/guest/ferry-guest64.elf: $(GUEST_OBJS) guest/guest.ld
	@mkdir -p $(dir $@)
	$(GUEST_CC) -m64 -nostdlib -static -no-pie -Wl,-T,guest/guest.ld \
	    -Wl,-z,max-page-size=0x1000 -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments \
	    -o $@ $(GUEST_OBJS)

$(BUILD)/guest/ferry-guest.elf: $(BUILD)/guest/ferry-guest64.elf
	objcopy -O elf32-i386 $< $@

# ferry embeds the guest as its default -kernel.
$(BUILD)/guest/blob.o: hw/x86/guest-blob.S $(BUILD)/guest/ferry-guest.elf
	$(CC) -c -DGUEST_ELF='"$(BUILD)/guest/ferry-guest.elf"' -o $@ $<
