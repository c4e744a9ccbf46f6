// SPDX-License-Identifier: GPL-2.0
/*
 * The record rings: one per possible CPU, each with one producer (the probes of that
 * CPU, with interrupts off, so a probe in an interrupt cannot cut into a record being
 * written) and one consumer (the device's reader, serialised by a mutex). head and tail
 * count bytes from the start and only grow; the producer publishes a record by storing
 * head with release semantics after writing it, the reader frees room the same way
 * through tail, so neither ever takes a lock the other holds. A tracepoint may fire with
 * the runqueue locked (sched_switch, sched_waking), where waking the reader would take
 * that lock again: the reader is woken from an irq_work instead, once, when a ring goes
 * from empty to holding a record.
 *
 * A record never wraps: when the end of the buffer is too short for it, the rest of the
 * buffer is filled with a pad (type CW_EV_NONE), which the reader skips. Records are
 * multiples of 8 bytes and rings powers of two, so a pad always has room for its header.
 * A record the ring has no room for is dropped and counted; the reader turns the counts
 * into a CW_EV_LOST record before the records that follow them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/irq_work.h>
#include <linux/minmax.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include <concwatch/events.h>

#include "concwatch.h"

struct cw_ring {
	void *buf;
	u64 head;		/* bytes written; the producer's, read by the reader */
	u64 tail;		/* bytes consumed; the reader's, read by the producer */
	u64 records;		/* written, producer only */
	u64 lost;		/* dropped for want of room, producer only */
	u64 lost_sent;		/* of lost, what a CW_EV_LOST told; reader only */
	u64 lost_seen;		/* of lost, what the CW_EV_LOST being made counts; reader only */
	struct irq_work wake;
};

static DEFINE_PER_CPU(struct cw_ring, cw_rings);
static size_t cw_ring_size;
static unsigned int cw_next_cpu;	/* the reader starts here: no ring waits behind another */
DECLARE_WAIT_QUEUE_HEAD(cw_readers);

static void cw_ring_wake(struct irq_work *work)
{
	wake_up_interruptible(&cw_readers);
}

int cw_rings_init(unsigned int pages)
{
	int cpu;

	cw_ring_size = (size_t)pages << PAGE_SHIFT;
	for_each_possible_cpu(cpu) {
		struct cw_ring *r = per_cpu_ptr(&cw_rings, cpu);

		init_irq_work(&r->wake, cw_ring_wake);
		r->buf = vzalloc_node(cw_ring_size, cpu_to_node(cpu));
		if (!r->buf) {
			cw_rings_free();
			return -ENOMEM;
		}
	}
	return 0;
}

/* The probes are gone (cw_trace_stop); a wakeup may still be queued. */
void cw_rings_free(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct cw_ring *r = per_cpu_ptr(&cw_rings, cpu);

		irq_work_sync(&r->wake);
		vfree(r->buf);
		r->buf = NULL;
	}
}

void cw_rings_reset(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct cw_ring *r = per_cpu_ptr(&cw_rings, cpu);

		r->head = 0;
		r->tail = 0;
		r->records = 0;
		r->lost = 0;
		r->lost_sent = 0;
	}
}

u64 cw_ring_bytes(void)
{
	return cw_ring_size;
}

int cw_ring_write(struct cw_hdr *rec)
{
	u64 head, tail, off, pad = 0, size = rec->size;
	unsigned long flags;
	struct cw_ring *r;
	int err = 0;

	local_irq_save(flags);
	r = this_cpu_ptr(&cw_rings);
	head = r->head;
	/* pairs with the reader's release of tail: the room it freed is read out */
	tail = smp_load_acquire(&r->tail);
	off = head & (cw_ring_size - 1);
	if (cw_ring_size - off < size)
		pad = cw_ring_size - off;
	if (head + pad + size - tail > cw_ring_size) {
		r->lost++;
		err = -ENOSPC;
		goto out;
	}
	if (pad) {
		struct cw_hdr *p = r->buf + off;

		p->type = CW_EV_NONE;
		p->size = pad;
		off = 0;
	}
	rec->cpu = smp_processor_id();
	memcpy(r->buf + off, rec, size);
	r->records++;
	/* pairs with the reader's acquire of head: the record is whole before it counts */
	smp_store_release(&r->head, head + pad + size);
	if (head == tail)
		irq_work_queue(&r->wake);
out:
	local_irq_restore(flags);
	return err;
}

bool cw_rings_empty(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct cw_ring *r = per_cpu_ptr(&cw_rings, cpu);

		/* pairs with cw_ring_write()'s release */
		if (smp_load_acquire(&r->head) != r->tail)
			return false;
		if (READ_ONCE(r->lost) != r->lost_sent)
			return false;
	}
	return true;
}

/* The records lost since the last report, as one record; 0 bytes when none were. */
static ssize_t cw_read_lost(char __user *buf, size_t count)
{
	struct cw_ev_lost e = {
		.hdr = { .type = CW_EV_LOST, .size = sizeof(e), .cpu = 0xffff },
		.what = CW_LOST_RINGBUF,
	};
	int cpu;

	/* what a producer counts after its snapshot here goes in the next report */
	for_each_possible_cpu(cpu) {
		struct cw_ring *r = per_cpu_ptr(&cw_rings, cpu);

		r->lost_seen = READ_ONCE(r->lost);
		e.count += r->lost_seen - r->lost_sent;
	}
	if (!e.count)
		return 0;
	if (count < sizeof(e))
		return -EINVAL;
	e.hdr.ts_ns = ktime_get_ns();
	if (copy_to_user(buf, &e, sizeof(e)))
		return -EFAULT;
	for_each_possible_cpu(cpu) {
		struct cw_ring *r = per_cpu_ptr(&cw_rings, cpu);

		r->lost_sent = r->lost_seen;
	}
	return sizeof(e);
}

/*
 * From one ring, the records that fit count bytes: the bytes copied (the records up to a
 * fault are consumed, the rest stay); *stop = -ENOSPC when one did not fit, -EFAULT.
 */
static size_t cw_read_ring(struct cw_ring *r, char __user *buf, size_t count, int *stop)
{
	/* pairs with cw_ring_write()'s release: the records up to head are whole */
	u64 tail = r->tail, head = smp_load_acquire(&r->head);
	size_t done = 0;

	while (tail != head) {
		const struct cw_hdr *h = r->buf + (tail & (cw_ring_size - 1));

		if (h->type != CW_EV_NONE) {
			if (h->size > count - done) {
				*stop = -ENOSPC;
				break;
			}
			if (copy_to_user(buf + done, h, h->size)) {
				*stop = -EFAULT;
				break;
			}
			done += h->size;
		}
		tail += h->size;
	}
	/* pairs with cw_ring_write()'s acquire: the room is free once copied out */
	smp_store_release(&r->tail, tail);
	return done;
}

ssize_t cw_rings_read(char __user *buf, size_t count)
{
	unsigned int n = 0, cpu = cw_next_cpu;
	ssize_t done;
	int stop = 0;

	done = cw_read_lost(buf, count);
	if (done < 0)
		return done;
	for (; n < nr_cpu_ids && !stop; n++, cpu = (cpu + 1) % nr_cpu_ids)
		if (cpu_possible(cpu))
			done += cw_read_ring(per_cpu_ptr(&cw_rings, cpu), buf + done,
					     count - done, &stop);
	cw_next_cpu = (cw_next_cpu + 1) % nr_cpu_ids;
	if (done)
		return done;
	/* a buffer too small for the first record would never read it */
	return stop == -ENOSPC ? -EINVAL : stop;
}

void cw_rings_stats(u64 *records, u64 *lost)
{
	int cpu;

	*records = 0;
	*lost = 0;
	for_each_possible_cpu(cpu) {
		struct cw_ring *r = per_cpu_ptr(&cw_rings, cpu);

		*records += READ_ONCE(r->records);
		*lost += READ_ONCE(r->lost);
	}
}
