/*
 * request_budget.h - the share of the request budget one peer gets
 * (request_budget.cpp): how many block requests each peer may keep
 * outstanding with this node, from the number of peers it has.
 */
#ifndef EZ_REQUEST_BUDGET_H
#define EZ_REQUEST_BUDGET_H

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks (16 KiB) a node may have requested from all its peers together. */
#define EZ_REQUEST_BUDGET_BLOCKS 64
/* The most any one peer may ask of this node at once (libtorrent's
 * max_allowed_in_request_queue is set to the same). */
#define EZ_REQUEST_QUEUE_MAX 16
/* The fewest, however many peers a node has. */
#define EZ_REQUEST_QUEUE_MIN 2

/* The share of the budget one peer gets when a node has peers of them:
 * EZ_REQUEST_BUDGET_BLOCKS / peers, at most EZ_REQUEST_QUEUE_MAX and at
 * least EZ_REQUEST_QUEUE_MIN; fewer than one peer counts as one.  Never
 * fails. */
int ez_request_budget_share(int peers);

#ifdef __cplusplus
}
#endif

#endif
