// SPDX-License-Identifier: GPL-2.0
/*
 * Where the return address is at a SystemTap SDT note: a note sits inside its
 * function, after its prologue, so the caller is not at [sp] as at an entry. The
 * file's call frame information says where it is; the BPF program gets it as the
 * note's cookie and reads the caller from there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>

#include "source/target.h"

/* The note locations of provider:name, file addresses: up to max of them. */
static size_t sdt_pcs(Elf *elf, const char *provider, const char *name, __u64 *pcs, size_t max)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, n = 0;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		size_t off = 0, name_off, desc_off;
		const char *sname;
		GElf_Shdr sh;
		GElf_Nhdr nh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		sname = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!sname || strcmp(sname, ".note.stapsdt"))
			continue;
		d = elf_getdata(scn, NULL);
		while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			const char *desc = (const char *)d->d_buf + desc_off;
			size_t plen;
			__u64 pc;

			if (nh.n_type != 3 || nh.n_descsz <= 24)
				continue;
			plen = strnlen(desc + 24, nh.n_descsz - 24);
			if (24 + plen + 1 >= nh.n_descsz || strcmp(desc + 24, provider) ||
			    strncmp(desc + 24 + plen + 1, name, nh.n_descsz - 24 - plen - 1))
				continue;
			memcpy(&pc, desc, sizeof(pc));
			if (n < max)
				pcs[n++] = pc;
		}
	}
	return n;
}

/* %rsp's DWARF register number on x86-64 */
#define DWARF_RSP 7

int cw_sdt__return_offset(const char *path, const char *provider, const char *name)
{
	__u64 pcs[16];
	int found = -1;
	struct cw_elf *e;
	Dwarf_CFI *cfi;
	Elf *elf;
	size_t n;

	if (cw_elf__open(path, &e))
		return -ENOENT;
	elf = cw_elf__elf(e);
	cfi = dwarf_getcfi_elf(elf);
	n = sdt_pcs(elf, provider, name, pcs, 16);
	for (size_t i = 0; cfi && i < n; i++) {
		Dwarf_Frame *frame = NULL;
		Dwarf_Op *ops;
		size_t nops;
		int at;

		/* CFA = %rsp + N: the return address is just below the CFA */
		if (dwarf_cfi_addrframe(cfi, pcs[i], &frame) ||
		    dwarf_frame_cfa(frame, &ops, &nops) || nops != 1 ||
		    ops[0].atom != DW_OP_bregx || ops[0].number != DWARF_RSP) {
			found = -1;
			free(frame);
			break;
		}
		at = (int)ops[0].number2 - 8;
		free(frame);
		/* every location of the note must agree: one cookie serves them all */
		if (found >= 0 && found != at) {
			found = -1;
			break;
		}
		found = at;
	}
	if (cfi)
		dwarf_cfi_end(cfi);
	cw_elf__close(e);
	return found < 0 ? -ENOENT : found;
}
