/*
 * intervm Promela export: protocol coalescing, variant correct
 * memory model: tso
 * params: capacity=1, requests=1
 * 20 commands in 4 fairness groups; 33 state variables
 * Generated from the compiled system by intervm.model.promela; do not edit.
 *
 * safety:   spin -DSAFETY_ONLY -a model.pml && gcc -O2 -DSAFETY -DBFS -o pan pan.c
 *           ./pan -N <property>
 * liveness: spin -a model.pml && gcc -O2 -o pan pan.c && ./pan -a -f -N <property>
 */

int slots[1];  /* shared */
int tail;  /* shared */
int head;  /* shared */
int flag;  /* shared */
int pending_irq;  /* pending.irq (pending) */
int injected_irq;  /* injected.irq (injected) */
int produced;  /* ghost */
int consumed;  /* ghost */
int notifies;  /* ghost */
int sleeps;  /* ghost */
int bad_read;  /* ghost */
int bad_order;  /* ghost */
int pc_P;  /* pc.P (pc) */
int P_t;  /* P.t (local) */
int P_h;  /* P.h (local) */
int P_n;  /* P.n (local) */
int P_f;  /* P.f (local) */
int sb_P_n;  /* sb.P.n (sb) */
int sb_P_val0;  /* sb.P.val0 (sb) */
int sb_P_var0;  /* sb.P.var0 (sb) */
int sb_P_idx0;  /* sb.P.idx0 (sb) */
int sb_P_val1;  /* sb.P.val1 (sb) */
int sb_P_var1;  /* sb.P.var1 (sb) */
int sb_P_idx1;  /* sb.P.idx1 (sb) */
int pc_C;  /* pc.C (pc) */
int C_h;  /* C.h (local) */
int C_t;  /* C.t (local) */
int C_d;  /* C.d (local) */
int sb_C_n;  /* sb.C.n (sb) */
int sb_C_val0;  /* sb.C.val0 (sb) */
int sb_C_var0;  /* sb.C.var0 (sb) */
int sb_C_val1;  /* sb.C.val1 (sb) */
int sb_C_var1;  /* sb.C.var1 (sb) */

bit progressed;  /* ghost: the last command was a progress command (liveness) */
#ifdef SAFETY_ONLY
#define set_progressed(b) skip  /* safety: the state vector is the system's own */
#else
#define set_progressed(b) progressed = b
#endif

/* fairness group P: weakly fair */
active proctype P() {
  do
  :: /* 0: P.idle->space -- → space (publish another request, check for a kick, or stop) */
     d_step { (pc_P == 0) && (P_n < 1) ->
       pc_P = 1;
       set_progressed(0);
       printf("@cmd 0\n")
     }
  :: /* 1: P.idle->done -- → done (publish another request, check for a kick, or stop) */
     d_step { pc_P == 0 ->
       pc_P = 8;
       set_progressed(0);
       printf("@cmd 1\n")
     }
  :: /* 2: P.space -- h := load head; if CAPACITY <= (t - h) goto space */
     d_step { pc_P == 1 ->
       P_h = head;
       pc_P = (1 <= (P_t - head) -> 1 : 2);
       set_progressed(0);
       printf("@cmd 2\n")
     }
  :: /* 3: P.write -- store slots[t] := t + 1 */
     d_step { (pc_P == 2) && (sb_P_n < 2) ->
       sb_P_val0 = (sb_P_n == 0 -> P_t + 1 : sb_P_val0);
       sb_P_var0 = (sb_P_n == 0 -> 1 : sb_P_var0);
       sb_P_idx0 = (sb_P_n == 0 -> P_t % 1 : sb_P_idx0);
       sb_P_val1 = (sb_P_n == 1 -> P_t + 1 : sb_P_val1);
       sb_P_var1 = (sb_P_n == 1 -> 1 : sb_P_var1);
       sb_P_idx1 = (sb_P_n == 1 -> P_t % 1 : sb_P_idx1);
       sb_P_n = sb_P_n + 1;
       pc_P = 3;
       set_progressed(0);
       printf("@cmd 3\n")
     }
  :: /* 4: P.wmb -- store fence (sfence) */
     d_step { pc_P == 3 ->
       pc_P = 4;
       set_progressed(0);
       printf("@cmd 4\n")
     }
  :: /* 5: P.publish -- store tail := t + 1 */
     d_step { (pc_P == 4) && (sb_P_n < 2) ->
       P_n = P_n + 1;
       sb_P_val0 = (sb_P_n == 0 -> P_t + 1 : sb_P_val0);
       sb_P_var0 = (sb_P_n == 0 -> 2 : sb_P_var0);
       sb_P_idx0 = (sb_P_n == 0 -> 0 : sb_P_idx0);
       sb_P_val1 = (sb_P_n == 1 -> P_t + 1 : sb_P_val1);
       P_t = P_t + 1;
       sb_P_var1 = (sb_P_n == 1 -> 2 : sb_P_var1);
       sb_P_idx1 = (sb_P_n == 1 -> 0 : sb_P_idx1);
       sb_P_n = sb_P_n + 1;
       produced = produced + 1;
       pc_P = 5;
       set_progressed(0);
       printf("@cmd 5\n")
     }
  :: /* 6: P.pfence -- full fence (mfence) */
     d_step { (pc_P == 5) && (sb_P_n == 0) ->
       pc_P = 6;
       set_progressed(0);
       printf("@cmd 6\n")
     }
  :: /* 7: P.readflag -- f := load flag; if f == 0 goto idle */
     d_step { pc_P == 6 ->
       P_f = flag;
       pc_P = (flag == 0 -> 0 : 7);
       set_progressed(0);
       printf("@cmd 7\n")
     }
  :: /* 8: P.kick -- notify irq */
     d_step { (pc_P == 7) && (sb_P_n == 0) ->
       injected_irq = injected_irq + (pending_irq == 0 -> 1 : 0);
       pending_irq = 1;
       notifies = notifies + 1;
       pc_P = 0;
       set_progressed(0);
       printf("@cmd 8\n")
     }
  od
}

/* fairness group C: weakly fair */
active proctype C() {
  do
  :: /* 9: C.drain -- t := load tail; if (t - h) == 0 goto arm */
     d_step { pc_C == 0 ->
       C_t = tail;
       pc_C = ((tail - C_h) == 0 -> 3 : 1);
       set_progressed(0);
       printf("@cmd 9\n")
     }
  :: /* 10: C.read -- d := load slots[h] */
     d_step { pc_C == 1 ->
       C_d = slots[C_h % 1];
       bad_read = ((bad_read != 0) || (slots[C_h % 1] != (C_h + 1)) -> 1 : 0) % 2;
       pc_C = 2;
       set_progressed(0);
       printf("@cmd 10\n")
     }
  :: /* 11: C.pop [progress] -- store head := h + 1 */
     d_step { (pc_C == 2) && (sb_C_n < 2) ->
       sb_C_val0 = (sb_C_n == 0 -> C_h + 1 : sb_C_val0);
       sb_C_var0 = (sb_C_n == 0 -> 3 : sb_C_var0);
       sb_C_val1 = (sb_C_n == 1 -> C_h + 1 : sb_C_val1);
       C_h = C_h + 1;
       sb_C_var1 = (sb_C_n == 1 -> 3 : sb_C_var1);
       sb_C_n = sb_C_n + 1;
       bad_order = ((bad_order != 0) || (C_d != (consumed + 1)) -> 1 : 0) % 2;
       consumed = consumed + 1;
       pc_C = 0;
       set_progressed(1);
       printf("@cmd 11\n")
     }
  :: /* 12: C.arm -- store flag := 1 */
     d_step { (pc_C == 3) && (sb_C_n < 2) ->
       sb_C_val0 = (sb_C_n == 0 -> 1 : sb_C_val0);
       sb_C_var0 = (sb_C_n == 0 -> 4 : sb_C_var0);
       sb_C_val1 = (sb_C_n == 1 -> 1 : sb_C_val1);
       sb_C_var1 = (sb_C_n == 1 -> 4 : sb_C_var1);
       sb_C_n = sb_C_n + 1;
       sleeps = sleeps + 1;
       pc_C = 4;
       set_progressed(0);
       printf("@cmd 12\n")
     }
  :: /* 13: C.cfence -- full fence (mfence) */
     d_step { (pc_C == 4) && (sb_C_n == 0) ->
       pc_C = 5;
       set_progressed(0);
       printf("@cmd 13\n")
     }
  :: /* 14: C.recheck -- t := load tail; if (t - h) == 0 goto block */
     d_step { pc_C == 5 ->
       C_t = tail;
       pc_C = ((tail - C_h) == 0 -> 7 : 6);
       set_progressed(0);
       printf("@cmd 14\n")
     }
  :: /* 15: C.unarm -- store flag := 0 */
     d_step { (pc_C == 6) && (sb_C_n < 2) ->
       sb_C_val0 = (sb_C_n == 0 -> 0 : sb_C_val0);
       sb_C_var0 = (sb_C_n == 0 -> 4 : sb_C_var0);
       sb_C_val1 = (sb_C_n == 1 -> 0 : sb_C_val1);
       sb_C_var1 = (sb_C_n == 1 -> 4 : sb_C_var1);
       sb_C_n = sb_C_n + 1;
       pc_C = 1;
       set_progressed(0);
       printf("@cmd 15\n")
     }
  :: /* 16: C.block -- wait irq (woken) */
     d_step { ((pc_C == 7) && (pending_irq != 0)) && (sb_C_n == 0) ->
       pending_irq = 0;
       pc_C = 8;
       set_progressed(0);
       printf("@cmd 16\n")
     }
  :: /* 17: C.wake -- store flag := 0 */
     d_step { (pc_C == 8) && (sb_C_n < 2) ->
       sb_C_val0 = (sb_C_n == 0 -> 0 : sb_C_val0);
       sb_C_var0 = (sb_C_n == 0 -> 4 : sb_C_var0);
       sb_C_val1 = (sb_C_n == 1 -> 0 : sb_C_val1);
       sb_C_var1 = (sb_C_n == 1 -> 4 : sb_C_var1);
       sb_C_n = sb_C_n + 1;
       pc_C = 0;
       set_progressed(0);
       printf("@cmd 17\n")
     }
  od
}

/* fairness group flush.P: weakly fair */
active proctype flush_P() {
  do
  :: /* 18: flush(P) -- P's oldest buffered store reaches memory */
     d_step { 0 < sb_P_n ->
       if :: (sb_P_var0 == 1) -> slots[sb_P_idx0] = sb_P_val0 :: else -> skip fi;
       tail = (sb_P_var0 == 2 -> sb_P_val0 : tail);
       sb_P_val0 = sb_P_val1;
       sb_P_var0 = sb_P_var1;
       sb_P_idx0 = sb_P_idx1;
       sb_P_val1 = 0;
       sb_P_var1 = 0;
       sb_P_idx1 = 0;
       sb_P_n = sb_P_n - 1;
       set_progressed(0);
       printf("@cmd 18\n")
     }
  od
}

/* fairness group flush.C: weakly fair */
active proctype flush_C() {
  do
  :: /* 19: flush(C) -- C's oldest buffered store reaches memory */
     d_step { 0 < sb_C_n ->
       flag = (sb_C_var0 == 4 -> sb_C_val0 : flag);
       head = (sb_C_var0 == 3 -> sb_C_val0 : head);
       sb_C_val0 = sb_C_val1;
       sb_C_var0 = sb_C_var1;
       sb_C_val1 = 0;
       sb_C_var1 = 0;
       sb_C_n = sb_C_n - 1;
       set_progressed(0);
       printf("@cmd 19\n")
     }
  od
}

/* a run that ends stutters forever: lets liveness claims see deadlocks */
active proctype deadlock() {
  do
  :: atomic { timeout -> set_progressed(0) }
  od
}

/* Always no_lost_wakeup: violated = a reachable state breaks it */
ltl no_lost_wakeup { [] (!(((((pc_P == 8) || (pc_P == 0)) && (pc_C == 7)) && !(pending_irq != 0)) && ((tail - C_h) != 0))) }
/* Always no_unpublished_read: violated = a reachable state breaks it */
ltl no_unpublished_read { [] (bad_read == 0) }
/* Always fifo: violated = a reachable state breaks it */
ltl fifo { [] (bad_order == 0) }
/* Always notification_budget: violated = a reachable state breaks it */
ltl notification_budget { [] (notifies <= (sleeps + 1)) }
/* Eventually eventually_consumed: check with pan -a -f (weak fairness) */
ltl eventually_consumed { [] <> (!((tail - C_h) != 0) || progressed) }
/* Sometimes consumer_sleeps: a violation of this claim is a witness */
ltl consumer_sleeps { [] !((pc_C == 7) && (1 <= consumed)) }
/* Sometimes interrupt_raised: a violation of this claim is a witness */
ltl interrupt_raised { [] !(1 <= notifies) }
