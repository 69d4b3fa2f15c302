/*
 * fm_items.h - item tables registered with a model (fm_materialize_items).
 */
#ifndef FMREC_FM_ITEMS_H
#define FMREC_FM_ITEMS_H

/*
 * Recomputes the bias, embedding and version columns of every item table
 * registered with `model` from the model just written, in the caller's
 * transaction and with the caller's privileges; one NOTICE per table.  An
 * error (a registered table lost a column, no UPDATE privilege) fails the
 * training, so the previous model and the previous vectors stay.  Called
 * once, at the end of fm_store_write.
 */
extern void fm_items_refresh(const char *model);

#endif							/* FMREC_FM_ITEMS_H */
