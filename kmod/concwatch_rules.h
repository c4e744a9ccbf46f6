/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __CONCWATCH_RULES_KMOD_H
#define __CONCWATCH_RULES_KMOD_H

int cw_rules_selfcheck(void);

#endif /* __CONCWATCH_RULES_KMOD_H */
