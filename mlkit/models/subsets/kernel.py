"""Fused Newton (IRLS) kernel for L2 logistic regression on many feature subsets.

One call of :func:`fold_chunk_search` fits every subset of one *chunk* on one
cross-validation fold.  A chunk is the set of bitmasks that share their high bits
(``base``); the low ``n_low`` features are enumerated depth first, so every
subset is warm-started from its parent (the same subset without its last
added feature, whose optimum is on the DFS stack).  Per subset the kernel runs
plain Newton steps on

    f(b, w) = sum_i [log(1 + exp(eta_i)) - y_i eta_i] + ||w||^2 / (2 C),
    eta_i = b + x_i . w

(the objective of scikit-learn's ``LogisticRegression(C=C)``, up to the factor
``n`` that scikit-learn divides by; the intercept ``b`` is not penalised) until
``max_a |grad_a| / n <= tol`` (the same scale as scikit-learn's ``gtol``),
falling back to a damped Newton with backtracking line search from zero when the
plain iteration does not converge.  All arithmetic is float64.

The functions are pure numba kernels without I/O; they release the GIL so the
caller can run (chunk, fold) tasks on a thread pool (or on Dask workers) and
get bit-identical results whatever the scheduling.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}  # vectorised reductions; no NaN/inf assumptions

#: plain Newton iterations before the damped fallback takes over
PLAIN_NEWTON_MAX_ITER = 50


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # fdlibm split of ln 2 (hi has trailing zero bits)
_LN2_LO = 1.90821492927058770002e-10


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _vexp(x, out, bits, n):
    """``out[:n] = exp(x[:n])`` in two loops the compiler vectorises (glibc's exp is scalar).

    Range reduction ``x = k ln2 + r`` (|r| <= ln2 / 2), degree-13 Taylor polynomial
    (truncation < 2e-17), scaling by ``2**k`` built in the exponent bits (``bits``
    is int64 scratch). ``x`` is clipped to [-700, 700] (``exp(700) = 1e304``, the
    sigmoid is saturated there). Relative error <= 5e-16 for |x| < 40.
    """
    for i in range(n):
        v = min(max(x[i], -700.0), 700.0)
        k = np.floor(v * _LOG2E + 0.5)
        r = (v - k * _LN2_HI) - k * _LN2_LO
        q = 1.0 / 6227020800.0
        q = q * r + 1.0 / 479001600.0
        q = q * r + 1.0 / 39916800.0
        q = q * r + 1.0 / 3628800.0
        q = q * r + 1.0 / 362880.0
        q = q * r + 1.0 / 40320.0
        q = q * r + 1.0 / 5040.0
        q = q * r + 1.0 / 720.0
        q = q * r + 1.0 / 120.0
        q = q * r + 1.0 / 24.0
        q = q * r + 1.0 / 6.0
        q = q * r + 0.5
        q = q * r + 1.0
        q = q * r + 1.0
        out[i] = q
        bits[i] = (np.int64(k) + 1023) << 52
    scale = bits.view(np.float64)
    for i in range(n):
        out[i] *= scale[i]


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _gradient(X, y, n, idx, k1, beta, inv_C, eta, p, r, bits):
    """Fill ``eta = X beta``, ``p = sigmoid(eta)`` and the residual ``r = p - y`` (length ``n``)."""
    for i in range(n):
        eta[i] = 0.0
    for a in range(k1):
        xa = X[idx[a]]
        ba = beta[a]
        for i in range(n):
            eta[i] += ba * xa[i]
    for i in range(n):
        r[i] = -eta[i]
    _vexp(r, p, bits, n)
    for i in range(n):
        p[i] = 1.0 / (1.0 + p[i])
        r[i] = p[i] - y[i]


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _grad_vec(X, n, idx, k1, beta, inv_C, r, grad):
    gmax = 0.0
    for a in range(k1):
        xa = X[idx[a]]
        s = 0.0
        for i in range(n):
            s += r[i] * xa[i]
        if a > 0:
            s += inv_C * beta[a]
        grad[a] = s
        if abs(s) > gmax:
            gmax = abs(s)
    return gmax


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _hessian_solve(X, n, idx, k1, inv_C, p, w, Z, H, grad, step, row0):
    """Solve ``(X^T W X + diag(0, 1/C, ...)) step = grad`` by Cholesky (``W = p (1 - p)``).

    Rows ``< row0`` of ``H`` must already hold a Cholesky factor of the leading block
    (the parent subset's factor, for a bordered update); only rows ``>= row0`` are
    formed and factorised. Returns False when the matrix is not positive definite.
    """
    for i in range(n):
        w[i] = p[i] * (1.0 - p[i])
    for a in range(row0, k1):
        xa = X[idx[a]]
        za = Z[a]
        for i in range(n):
            za[i] = w[i] * xa[i]
        for b in range(a + 1):
            xb = X[idx[b]]
            s = 0.0
            for i in range(n):
                s += za[i] * xb[i]
            H[a, b] = s
        if a > 0:
            H[a, a] += inv_C
    # Cholesky (lower, row by row: Cholesky-Banachiewicz) in place
    for a in range(row0, k1):
        for j in range(a):
            t = H[a, j]
            for m in range(j):
                t -= H[a, m] * H[j, m]
            H[a, j] = t / H[j, j]
        s = H[a, a]
        for m in range(a):
            s -= H[a, m] * H[a, m]
        if not s > 0.0:
            return False
        H[a, a] = np.sqrt(s)
    # forward: L z = grad
    for a in range(k1):
        t = grad[a]
        for m in range(a):
            t -= H[a, m] * step[m]
        step[a] = t / H[a, a]
    # backward: L^T step = z
    for a in range(k1 - 1, -1, -1):
        t = step[a]
        for m in range(a + 1, k1):
            t -= H[m, a] * step[m]
        step[a] = t / H[a, a]
    return True


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _objective(X, y, n, idx, k1, beta, inv_C, eta):
    for i in range(n):
        eta[i] = 0.0
    for a in range(k1):
        xa = X[idx[a]]
        ba = beta[a]
        for i in range(n):
            eta[i] += ba * xa[i]
    f = 0.0
    for i in range(n):
        e = eta[i]
        f += max(e, 0.0) + np.log1p(np.exp(-abs(e))) - y[i] * e
    for a in range(1, k1):
        f += 0.5 * inv_C * beta[a] * beta[a]
    return f


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def fit_newton(
    X, y, n, idx, k1, beta, inv_C, tol_abs, max_iter, work, work2, Z, H, start_p, L0, n_L0
):
    """Fit one subset in place (``beta[:k1]`` is the start and ends as the optimum).

    Parameters
    ----------
    X : ndarray of shape (p + 1, n_max)
        Standardised training features of one fold, one *row* per feature; row ``p``
        holds ones (the intercept column).
    y : ndarray of shape (n_max,)
        0/1 labels.
    n : int
        Number of training samples (columns of ``X`` used).
    idx : ndarray of int64, shape (>= k1,)
        Rows of ``X`` in the model; ``idx[0]`` must be the intercept row ``p``.
    k1 : int
        Number of parameters (features + intercept).
    beta : ndarray of shape (>= k1,)
        Start / solution, ordered like ``idx``.
    inv_C, tol_abs, max_iter
        ``1 / C``, the absolute gradient tolerance (``tol * n``) and the iteration cap.
    work, work2, Z, H
        Scratch arrays of shapes (5, n_max), (2, p + 1), (p + 1, n_max), (p + 1, p + 1).
        On return ``work[1, :n]`` holds the fitted probabilities.
    start_p : ndarray of shape (n_max,) or (0,)
        Probabilities at the start ``beta`` when known (a warm start from the parent,
        whose new coefficient is 0, has the parent's probabilities); saves one pass.
    L0 : ndarray of shape (p + 1, p + 1)
        Cholesky factor of the parent's last Newton Hessian (its leading ``n_L0``
        rows are used for the first step; ``n_L0 = 0``: none). The first step then
        only forms the new Hessian row (bordered Cholesky); later steps are exact.
        On return ``H`` holds the factor of the last Newton step.

    Returns
    -------
    int
        Newton iterations used (>= 0), or ``-1`` when not converged.
    """
    eta = work[0]
    p = work[1]
    r = work[2]
    w = work[3]
    bits = work[4].view(np.int64)
    grad = work2[0]
    step = work2[1]
    # plain Newton from the given start
    n_plain = min(max_iter, PLAIN_NEWTON_MAX_ITER)
    for it in range(n_plain + 1):
        if it == 0 and start_p.shape[0] > 0:
            for i in range(n):
                p[i] = start_p[i]
                r[i] = p[i] - y[i]
        else:
            _gradient(X, y, n, idx, k1, beta, inv_C, eta, p, r, bits)
        gmax = _grad_vec(X, n, idx, k1, beta, inv_C, r, grad)
        if gmax <= tol_abs:
            return it
        if not gmax < 1e300:  # NaN / inf: diverged
            break
        if it == n_plain:
            break
        row0 = 0
        if it == 0 and n_L0 > 0:
            row0 = n_L0
            for a in range(n_L0):
                for b in range(a + 1):
                    H[a, b] = L0[a, b]
        ok = _hessian_solve(X, n, idx, k1, inv_C, p, w, Z, H, grad, step, row0)
        if not ok and row0 > 0:
            ok = _hessian_solve(X, n, idx, k1, inv_C, p, w, Z, H, grad, step, 0)
        if not ok:
            break
        for a in range(k1):
            beta[a] -= step[a]
    # damped Newton (backtracking on the objective) from zero
    for a in range(k1):
        beta[a] = 0.0
    f = _objective(X, y, n, idx, k1, beta, inv_C, eta)
    for it in range(max_iter + 1):
        _gradient(X, y, n, idx, k1, beta, inv_C, eta, p, r, bits)
        gmax = _grad_vec(X, n, idx, k1, beta, inv_C, r, grad)
        if gmax <= tol_abs:
            return n_plain + it
        if it == max_iter or not _hessian_solve(X, n, idx, k1, inv_C, p, w, Z, H, grad, step, 0):
            return -1
        t = 1.0
        slope = 0.0
        for a in range(k1):
            slope += grad[a] * step[a]
        for a in range(k1):
            work2[0, a] = beta[a]  # keep the old point in grad's slot (grad no longer needed)
        accepted = False
        for _ls in range(60):
            for a in range(k1):
                beta[a] = work2[0, a] - t * step[a]
            f_new = _objective(X, y, n, idx, k1, beta, inv_C, eta)
            if f_new <= f - 1e-4 * t * slope or abs(f_new - f) <= 1e-15 * abs(f):
                accepted = True
                break
            t *= 0.5
        if not accepted:
            for a in range(k1):
                beta[a] = work2[0, a]
            return -1
        f = f_new
    return -1


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _score(Xte, yte, nte, idx, k1, beta, dec):
    """Test-fold decision values into ``dec``; return (f1, accuracy, roc_auc)."""
    tp = 0
    fp = 0
    fn = 0
    tn = 0
    for j in range(nte):
        dec[j] = 0.0
    for a in range(k1):
        xa = Xte[idx[a]]
        ba = beta[a]
        for j in range(nte):
            dec[j] += ba * xa[j]
    for j in range(nte):
        pos = dec[j] > 0.0
        if yte[j] > 0.5:
            if pos:
                tp += 1
            else:
                fn += 1
        else:
            if pos:
                fp += 1
            else:
                tn += 1
    den = 2 * tp + fp + fn
    f1 = 2.0 * tp / den if den > 0 else 0.0
    acc = (tp + tn) / nte
    # ROC AUC = P(dec_pos > dec_neg) + 0.5 P(tie)
    npos = tp + fn
    nneg = fp + tn
    if npos == 0 or nneg == 0:
        auc = np.nan
    else:
        s = 0.0
        for j in range(nte):
            if yte[j] > 0.5:
                for m in range(nte):
                    if yte[m] < 0.5:
                        if dec[j] > dec[m]:
                            s += 1.0
                        elif dec[j] == dec[m]:
                            s += 0.5
        auc = s / (npos * nneg)
    return f1, acc, auc


@njit(nogil=True, cache=True)
def fold_chunk_search(
    Xtr,
    ytr,
    ntr,
    Xte,
    yte,
    nte,
    base_feats,
    n_low,
    max_k,
    inv_C,
    tol,
    max_iter,
    out_f1,
    out_acc,
    out_auc,
    out_iter,
    rec_slot,
    rec_coef,
    rec_dec,
):
    """Fit all subsets of one chunk on one fold (depth-first, warm-started).

    Parameters
    ----------
    Xtr : ndarray of shape (p + 1, n_tr_max)
        Fold-standardised training features (rows = features, row ``p`` = ones).
    ytr : ndarray of shape (n_tr_max,)
    ntr : int
    Xte : ndarray of shape (p + 1, n_te_max)
        Test features standardised with the training fold's mean and scale.
    yte : ndarray of shape (n_te_max,)
    nte : int
    base_feats : ndarray of int64
        Features (global indices >= ``n_low``) fixed in every subset of the chunk.
    n_low : int
        Features ``0 .. n_low - 1`` are enumerated; local mask ``m`` means subset
        ``base | m``.
    max_k : int
        Largest subset size fitted.
    inv_C, tol, max_iter : float, float, int
    out_f1, out_acc, out_auc : ndarray of shape (2**n_low,)
        Per local mask metric on this fold (untouched for masks not fitted).
    out_iter : ndarray of int16, shape (2**n_low,)
        Newton iterations, ``-1`` when not converged; untouched (caller fills
        ``-2``) when the mask is not fitted (empty set or larger than ``max_k``).
    rec_slot : ndarray of int64, shape (2**n_low,) or (1,)
        Row of ``rec_coef`` / ``rec_dec`` to record the mask in, ``-1`` for none.
    rec_coef : ndarray of shape (n_rec, p + 1)
        Coefficients in global feature order, intercept last (standardised scale).
    rec_dec : ndarray of shape (n_rec, n_te_max)
        Test-fold decision values.
    """
    p = Xtr.shape[0] - 1
    n_max = Xtr.shape[1]
    kb = base_feats.shape[0]
    work = np.empty((5, n_max))
    work2 = np.zeros((2, p + 1))
    Z = np.empty((p + 1, n_max))
    H = np.empty((p + 1, p + 1))
    dec = np.empty(Xte.shape[1])
    betas = np.zeros((n_low + 1, p + 1))
    probs = np.zeros((n_low + 1, n_max))  # fitted probabilities along the DFS stack
    no_p = np.empty(0)
    Ls = np.zeros((n_low + 1, p + 1, p + 1))  # last Newton Cholesky factor along the stack
    nL = np.zeros(n_low + 1, np.int64)  # its valid rows (0: none)
    idx = np.empty(p + 1, np.int64)
    nxt = np.zeros(n_low + 1, np.int64)
    lowmask = np.zeros(n_low + 1, np.int64)
    tol_abs = tol * ntr
    # loop over whole 32-sample blocks when the arrays are zero-padded that far (padded
    # columns, intercept row included, are 0 and add exactly nothing)
    n_loop = min(-(-ntr // 32) * 32, n_max)
    recording = rec_slot.shape[0] == out_f1.shape[0]
    if kb > max_k:
        return
    idx[0] = p
    for a in range(kb):
        idx[1 + a] = base_feats[a]
    # root: the base subset (intercept only when the chunk has no high bits)
    k1 = 1 + kb
    it = fit_newton(
        Xtr,
        ytr,
        n_loop,
        idx,
        k1,
        betas[0],
        inv_C,
        tol_abs,
        max_iter,
        work,
        work2,
        Z,
        H,
        no_p,
        Ls[0],
        0,
    )
    _keep(it, k1, work, H, n_loop, probs[0], Ls[0], nL, 0)
    if kb > 0:
        f1, acc, auc = _score(Xte, yte, nte, idx, k1, betas[0], dec)
        out_f1[0] = f1
        out_acc[0] = acc
        out_auc[0] = auc
        out_iter[0] = it
        if recording and rec_slot[0] >= 0:
            _record(rec_slot[0], idx, k1, betas[0], dec, nte, rec_coef, rec_dec)
    d = 0
    nxt[0] = 0
    while d >= 0:
        lo = nxt[d]
        if lo >= n_low or kb + d + 1 > max_k:
            d -= 1
            continue
        nxt[d] = lo + 1
        k1 = 1 + kb + d  # parameters of the parent
        idx[k1] = lo
        parent = betas[d]
        child = betas[d + 1]
        for a in range(k1):
            child[a] = parent[a]
        child[k1] = 0.0
        it = fit_newton(
            Xtr,
            ytr,
            n_loop,
            idx,
            k1 + 1,
            child,
            inv_C,
            tol_abs,
            max_iter,
            work,
            work2,
            Z,
            H,
            probs[d],
            Ls[d],
            nL[d],
        )
        _keep(it, k1 + 1, work, H, n_loop, probs[d + 1], Ls[d + 1], nL, d + 1)
        m = lowmask[d] | (1 << lo)
        f1, acc, auc = _score(Xte, yte, nte, idx, k1 + 1, child, dec)
        out_f1[m] = f1
        out_acc[m] = acc
        out_auc[m] = auc
        out_iter[m] = it
        if recording and rec_slot[m] >= 0:
            _record(rec_slot[m], idx, k1 + 1, child, dec, nte, rec_coef, rec_dec)
        lowmask[d + 1] = m
        nxt[d + 1] = lo + 1
        d += 1


@njit(nogil=True, cache=True)
def _keep(it, k1, work, H, n, probs, L, nL, d):
    """Keep a node's fitted probabilities and last Cholesky factor for its children."""
    for i in range(n):
        probs[i] = work[1, i]
    if 1 <= it <= PLAIN_NEWTON_MAX_ITER:
        for a in range(k1):
            for b in range(a + 1):
                L[a, b] = H[a, b]
        nL[d] = k1
    else:
        nL[d] = 0


@njit(nogil=True, cache=True)
def _record(row, idx, k1, beta, dec, nte, rec_coef, rec_dec):
    for a in range(rec_coef.shape[1]):
        rec_coef[row, a] = 0.0
    for a in range(k1):
        rec_coef[row, idx[a]] = beta[a]
    for j in range(nte):
        rec_dec[row, j] = dec[j]
