"""Symbolic tensors, nodes, and the execution plan of a functional model.

`Input(shape)` returns a KerasTensor; calling a layer on KerasTensors records a Node (the layer,
its symbolic inputs, its symbolic outputs) and returns new KerasTensors of the inferred shapes.
`Graph` finds the nodes between a model's inputs and outputs, in an order where every node
comes after the nodes it reads. `Plan` runs that graph on arrays: values live in numbered
slots, the forward keeps each node's ctx (see pyconv/layers/base.py), and the backward walks
the nodes in reverse, adding the gradients of a value read by several nodes and of a weight
used at several nodes. A plan is made once per (graph, trainable flags, fusion choices) and
never changes; everything a call creates lives in that call.
"""
import numpy as np

from .layers.base import (BN_RELU, FROM_LOGITS, POOL_DEFER, RELU_FOLDED, RELU_IN_BN, RELU_MASK, KwargsCall,  # noqa: F401
                          _ActivatedLayer, flatten, is_stateful, pack_like, state_updates_of)
from . import _inference, activations, utils


__all__ = ["KerasTensor", "Node", "Graph", "Plan"]


class KerasTensor:
    """A symbolic tensor: a shape (batch axis None), a dtype, and the node that made it."""

    __slots__ = ("shape", "dtype", "name", "_history", "__weakref__")

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name or utils._unique_name("keras_tensor")
        self._history = None  # (layer, node index, tensor index)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def node(self):
        layer, i, _ = self._history
        return layer._inbound_nodes[i]

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse=False, name={self.name}>"

    def __array__(self, *a, **k):
        raise TypeError(f"A symbolic KerasTensor ({self.name}, shape={self.shape}) has no value: it only "
                        f"describes a model's graph. Build a model from it (pyconv.Model(inputs, outputs)) "
                        f"and call the model on arrays.")

    def _op(self, name, other, swap=False):
        from . import ops
        a, b = (other, self) if swap else (self, other)
        return getattr(ops, name)(a, b)

    def __add__(self, o): return self._op("add", o)
    def __radd__(self, o): return self._op("add", o, True)
    def __sub__(self, o): return self._op("subtract", o)
    def __rsub__(self, o): return self._op("subtract", o, True)
    def __mul__(self, o): return self._op("multiply", o)
    def __rmul__(self, o): return self._op("multiply", o, True)
    def __truediv__(self, o): return self._op("divide", o)
    def __rtruediv__(self, o): return self._op("divide", o, True)
    def __matmul__(self, o): return self._op("matmul", o)


class Node:
    """One call of a layer on symbolic tensors."""

    def __init__(self, layer, call_inputs, outputs, output_struct=None):
        self.layer = layer
        self.call_inputs = call_inputs
        self.inputs = [t for t in flatten(call_inputs)] if call_inputs != () else []
        self.outputs = list(outputs)
        self.output_struct = outputs[0] if output_struct is None else output_struct
        layer._inbound_nodes.append(self)
        index = len(layer._inbound_nodes) - 1
        for i, t in enumerate(self.outputs):
            t._history = (layer, index, i)

    @property
    def is_input(self):
        return not self.inputs


def any_symbolic(x):
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(any_symbolic(e) for e in x)
    if isinstance(x, dict):
        return any(any_symbolic(e) for e in x.values())
    return False


def _shapes(x):
    return pack_like(x, [t.shape for t in flatten(x)])


def symbolic_call(layer, inputs, kwargs):
    """layer(inputs) on KerasTensors: build the layer, infer the output shapes, record a Node."""
    flat = flatten(inputs)
    if kwargs:
        raise TypeError(f'Layer "{layer.name}": a functional model\'s layer call takes only its inputs '
                        f"(and `training`). Received also: {sorted(kwargs)}.")
    if not all(isinstance(t, KerasTensor) for t in flat):
        raise TypeError(f'Layer "{layer.name}" was called on a mix of symbolic tensors and other values: '
                        f"all inputs of a functional model's layer must come from `Input` or from other "
                        f"layers. Received: {[type(t).__name__ for t in flat]}.")
    shapes = _shapes(inputs)
    out = layer._symbolic_output_shape(shapes)
    outs = [KerasTensor(s) for s in flatten_shapes(out)]
    struct = outs[0] if _is_shape(out) else pack_shapes_like(out, outs)
    Node(layer, inputs, outs, struct)
    return struct


def _is_shape(s):
    return isinstance(s, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in s)


def flatten_shapes(s):
    if _is_shape(s):
        return [s]
    if isinstance(s, dict):
        return [a for k in sorted(s) for a in flatten_shapes(s[k])]
    return [a for e in s for a in flatten_shapes(e)]


def pack_shapes_like(s, flat):
    it = iter(flat)

    def go(x):
        if _is_shape(x):
            return next(it)
        if isinstance(x, dict):
            return {k: go(x[k]) for k in sorted(x)}
        return type(x)(go(e) for e in x)
    return go(s)


class Graph:
    """The nodes that compute `outputs` from `inputs` (flat lists of KerasTensors), in order."""

    def __init__(self, inputs, outputs):
        for t in list(inputs) + list(outputs):
            if not isinstance(t, KerasTensor):
                raise TypeError(f"A functional model's inputs and outputs must be symbolic tensors (from "
                                f"`Input` and from layers called on them). Received: {t!r}.")
        for t in inputs:
            if not t.node.is_input:
                raise ValueError(f"A model's inputs must come from `Input` (layers.Input). Received: {t.name}, "
                                 f"the output of layer \"{t.node.layer.name}\".")
        self.inputs, self.outputs = list(inputs), list(outputs)
        known = {id(t) for t in inputs}
        order, seen, stack = [], set(), set()

        def visit(node):
            if id(node) in seen:
                return
            if id(node) in stack:
                raise ValueError(f'The graph has a cycle at layer "{node.layer.name}".')
            stack.add(id(node))
            for t in node.inputs:
                if id(t) in known:
                    continue
                if t.node.is_input:
                    ok = [l.name for l in {id(n.layer): n.layer for n in order}.values()]
                    raise ValueError(f'Graph disconnected: cannot find parent for tensor {t.name} (from input '
                                     f'"{t.node.layer.name}") at layer "{node.layer.name}": that input is not one '
                                     f"of the model's inputs. The following previous layers were accessed "
                                     f"without issue: {ok}")
                visit(t.node)
            stack.discard(id(node))
            seen.add(id(node))
            order.append(node)

        for t in outputs:
            if id(t) not in known:
                visit(t.node)
        # Keras' order: by depth (the longest path to an output), deepest first; ties in the
        # order found. A producer is always deeper than its readers, so the order runs.
        depth = {id(n): 0 for n in order}
        for n in reversed(order):
            for t in n.inputs:
                if id(t) not in known:
                    p = id(t.node)
                    depth[p] = max(depth[p], depth[id(n)] + 1)
        pos = {id(n): i for i, n in enumerate(order)}
        self.nodes = sorted(order, key=lambda n: (-depth[id(n)], pos[id(n)]))
        layers, ids = [], set()
        for n in [t.node for t in inputs] + self.nodes:
            if id(n.layer) not in ids:
                ids.add(id(n.layer))
                layers.append(n.layer)
        self.layers = layers   # input layers first, then in order of first use

    def node_index(self, node):
        """The index of `node` among its layer's nodes in this graph (for configs)."""
        mine = {id(n) for n in self.nodes} | {id(t.node) for t in self.inputs}
        return [n for n in node.layer._inbound_nodes if id(n) in mine].index(node)


class _Step:
    __slots__ = ("layer", "node", "ins", "struct", "outs", "fuse", "need_dx", "pidx", "run_bwd", "multi_out",
                 "act", "plain_out")


def _plain_relu(layer):
    """An Activation('relu') or ReLU() layer with Keras's defaults: max(x, 0) exactly."""
    from .layers.activations import ReLU
    from .layers.core import Activation
    # ReLU() at its defaults runs the plain relu object; with arguments it has its own
    return type(layer) in (Activation, ReLU) and layer.activation is activations.get("relu")


def _step_input(s, vals):
    """The value(s) a step reads, from the slots."""
    return vals[s.ins] if s.struct is None else pack_like(s.struct, [vals[i] for i in s.ins])


def _step_output(s, vals, y):
    """Store a step's output(s) in its slots."""
    if s.multi_out:
        for o, v in zip(s.outs, flatten(y)):
            vals[o] = v
    else:
        vals[s.outs] = y


class Plan:
    """Runs a Graph on arrays; see the module's docstring.

    Args:
        graph: the Graph.
        params: the weights whose gradients `backward` returns (the model's trainable weights).
        logit_outputs: (output index, activation name) pairs: the loss of that output takes
            the logits of that activation (FROM_LOGITS) when the output has exactly it.
        inputs_need_grad: whether `backward` returns the gradients of the inputs.
    """

    def __init__(self, graph, params, logit_outputs=(), inputs_need_grad=False):
        slot = {}
        for t in graph.inputs:
            slot.setdefault(id(t), len(slot))
        self.in_slots = [slot[id(t)] for t in graph.inputs]
        consumers = {}
        steps = []
        pos = {id(a): i for i, a in enumerate(params)}
        for node in graph.nodes:
            st = _Step()
            st.layer = node.layer
            st.node = node
            ins = [slot[id(t)] for t in node.inputs]
            single_in = isinstance(node.call_inputs, KerasTensor)
            st.ins = ins[0] if single_in else tuple(ins)
            st.struct = None if single_in else node.call_inputs
            for i in ins:
                consumers[i] = consumers.get(i, 0) + 1
            outs = []
            for t in node.outputs:
                slot[id(t)] = len(slot)
                outs.append(slot[id(t)])
            st.multi_out = not isinstance(node.output_struct, KerasTensor)
            st.outs = tuple(outs) if st.multi_out else outs[0]
            st.fuse = 0
            st.pidx = [pos[id(a)] for a in node.layer.trainable_weights if id(a) in pos]
            st.act = None if st.multi_out else node.layer.__dict__.get("activity_regularizer")
            st.plain_out = not st.multi_out and st.act is None   # backward reads g[outs] as it is
            steps.append(st)
        self.nslots = len(slot)
        self.out_slots = [slot[id(t)] for t in graph.outputs]
        self.params = list(params)
        self.output_structs = None
        for t in graph.outputs:
            consumers[slot[id(t)]] = consumers.get(slot[id(t)], 0) + 1
        by_out = {s.outs: s for s in steps if not s.multi_out}
        self._fold_relus_into_bn(steps, by_out, consumers)
        # A relu that feeds only a max pooling: the pooling's backward applies relu's mask
        # (one pass over the activations instead of two; bitwise the same).
        for s in steps:
            if type(s.layer).__name__ in ("MaxPooling2D",) and not isinstance(s.ins, tuple):
                a = by_out.get(s.ins)
                if a is not None and consumers.get(s.ins) == 1 and isinstance(a.layer, _ActivatedLayer) \
                        and a.layer._fused_relu:
                    a.fuse |= RELU_FOLDED
                    s.fuse |= RELU_MASK
        self.folds = self._bn_folds(steps, by_out, consumers)
        self.fused_outputs = set()
        for k, act_name in logit_outputs:
            o = self.out_slots[k]
            a = by_out.get(o)
            # only the activation the loss names (the plain softmax over the last axis for the
            # categorical cross-entropies, sigmoid for the binary ones) has logits it can take:
            # any other output (relu, a sigmoid under a categorical loss...) is its input as it is;
            # nor a Softmax called with a mask (its output is 0 where masked: Keras' keeps no logits)
            if a is not None and consumers.get(o) == 1 and isinstance(a.layer, _ActivatedLayer) \
                    and a.layer.activation is activations.get(act_name) \
                    and not a.fuse & RELU_FOLDED and a.act is None and a.struct is None:
                a.fuse |= FROM_LOGITS
                self.fused_outputs.add(k)
        # Which values need a gradient: those computed from weights being trained (or from the
        # inputs, when asked). Backward stops below them: the lowest trainable layer computes no dx.
        needs = [False] * self.nslots
        for i in self.in_slots:
            needs[i] = inputs_need_grad
        for s in steps:
            ins = s.ins if isinstance(s.ins, tuple) else (s.ins,)
            s.need_dx = any(needs[i] for i in ins)
            s.run_bwd = s.need_dx or bool(s.pidx)
            for o in (s.outs if isinstance(s.outs, tuple) else (s.outs,)):
                needs[o] = s.run_bwd
        self._defer_pool_grads(steps, by_out)
        self.steps = steps
        self.inputs_need_grad = inputs_need_grad
        self.has_act = any(s.act is not None for s in steps)
        self.stateful = [k for k, s in enumerate(steps) if is_stateful(s.layer)]

    @staticmethod
    def _defer_pool_grads(steps, by_out):
        """A max pooling with windows that do not overlap, applying the relu mask of a Conv2D
        that computes no input gradient (the first layer): the pooling's backward hands the
        conv a PooledGrad, whose filter gradient is computed from the pooling's dout without
        writing the gradient in between (_kernels.conv2d_bwd_filter_pooled; bitwise the same).
        RELU_MASK already means the conv's output has no other reader."""
        from .layers.convolutional import Conv2D
        for s in steps:
            if not s.fuse & RELU_MASK or not s.plain_out:
                continue
            a = by_out.get(s.ins)
            if type(a.layer) is Conv2D and a.layer.groups == 1 and a.fuse == RELU_FOLDED \
                    and a.plain_out and not a.need_dx and tuple(s.layer.strides) == tuple(s.layer.pool_size):
                s.fuse |= POOL_DEFER

    @staticmethod
    def _fold_relus_into_bn(steps, by_out, consumers):
        """A plain relu that is the only reader of a BatchNormalization's output runs inside
        the BN's kernels (BN_RELU: y = relu(BN(x)) in one pass, the mask applied in BN's
        backward); the relu step passes its input through (RELU_IN_BN). Bitwise the same as the
        two steps. Not when the BN's output has an activity regularizer (it would see the relu's
        output)."""
        from .layers.normalization import BatchNormalization
        for s in steps:
            if s.multi_out or isinstance(s.ins, tuple) or not _plain_relu(s.layer):
                continue
            b = by_out.get(s.ins)
            if b is not None and type(b.layer) is BatchNormalization and consumers.get(s.ins) == 1 \
                    and b.act is None and not b.fuse:
                b.fuse |= BN_RELU
                s.fuse |= RELU_IN_BN

    @staticmethod
    def _bn_folds(steps, by_out, consumers):
        """{index of a Conv2D/Dense step: (index of the BatchNormalization step it feeds,
        index of a ReLU step after that, or None)}, for the chains `predict` runs as one
        kernel call: the BN reads only that layer's output, which nothing else reads, and the
        layer has no activation (a linear map followed by the per-channel affine map of
        inference BN is one linear map); a plain relu that is the BN output's only reader is
        applied in the same kernel's epilogue."""
        from .layers.normalization import BatchNormalization
        index = {id(s): k for k, s in enumerate(steps)}
        by_in = {s.ins: s for s in steps if not isinstance(s.ins, tuple)}
        folds = {}
        for k, s in enumerate(steps):
            if type(s.layer) is not BatchNormalization or isinstance(s.ins, tuple) or s.multi_out:
                continue
            a = by_out.get(s.ins)
            if a is None or consumers.get(s.ins) != 1 or not getattr(a.layer, "_folds_bn", False) \
                    or not a.layer._linear or a.fuse:
                continue
            r = by_in.get(s.outs)
            relu = r is not None and consumers.get(s.outs) == 1 and not r.multi_out and _plain_relu(r.layer)
            folds[index[id(a)]] = (k, index[id(r)] if relu else None)
        return folds

    def forward(self, inputs, training):
        """inputs: list of arrays (the graph's inputs). Returns (outputs list, ctx); the
        activity regularizers' penalty of the call is `penalty(ctx)`."""
        vals = [None] * self.nslots
        for i, a in zip(self.in_slots, inputs):
            vals[i] = a
        ctxs = []
        for s in self.steps:   # (_step_input/_step_output inlined: this loop runs every step)
            x = vals[s.ins] if s.struct is None else pack_like(s.struct, [vals[i] for i in s.ins])
            y, c = s.layer._fwd(x, training, s.fuse)
            if s.multi_out:
                for o, v in zip(s.outs, flatten(y)):
                    vals[o] = v
            else:
                vals[s.outs] = y
            ctxs.append(c)
        act = 0.0
        if self.has_act:   # Keras 3: an activity penalty is divided by the batch size
            n = max(len(inputs[0]), 1) if inputs else 1
            act = sum(s.act(vals[s.outs]) / n for s in self.steps if s.act is not None)
        return [vals[o] for o in self.out_slots], (ctxs, vals, act)

    @staticmethod
    def penalty(ctx):
        return ctx[2]

    def state_updates(self, ctx):
        """[(array, new values)]: the state a training forward computed for layers that keep
        some (BatchNormalization's moving statistics), in step order, nested functional models
        included. Nothing is written here: the trainer writes them in the step's commit."""
        out = []
        ctxs = ctx[0]
        for k in self.stateful:
            out.extend(state_updates_of(self.steps[k].layer, ctxs[k]))
        return out

    def predict(self, inputs):
        """Inference: the outputs only, without the contexts a backward pass would need. A
        BatchNormalization after a Conv2D or Dense without activation (see `_bn_folds`) is
        folded into that layer's kernel and bias, computed from the current weights in this
        call, and a relu after it into the kernel's epilogue: one pass over the activations
        instead of two or three. The batch runs in chunks on all threads: pyconv/_inference.py."""
        return _inference.run(self, inputs)

    def backward(self, ctx, doutputs, need_dx=None):
        """Gradients from the output gradients (None for an output without a loss).

        Returns (input gradients or None, gradients aligned with `params`)."""
        ctxs, vals, _ = ctx
        g = [None] * self.nslots
        for o, d in zip(self.out_slots, doutputs):
            if d is not None:
                g[o] = d if g[o] is None else g[o] + d
        acc = [None] * len(self.params)
        steps = self.steps
        for k in range(len(steps) - 1, -1, -1):
            s = steps[k]
            if not s.run_bwd:
                continue
            dy = g[s.outs] if s.plain_out else self._dy(s, g, vals)
            if dy is None:
                continue
            dx, grads = s.layer._bwd(ctxs[k], dy, s.need_dx, s.fuse)
            for i, gr in zip(s.pidx, grads):
                acc[i] = gr if acc[i] is None else acc[i] + gr
            if s.need_dx:
                if s.struct is None:
                    i = s.ins
                    g[i] = dx if g[i] is None else g[i] + dx
                else:
                    for i, d in zip(s.ins, flatten(dx)):
                        if d is not None:
                            g[i] = d if g[i] is None else g[i] + d
        grads = [np.zeros_like(p) if a is None else a for p, a in zip(self.params, acc)]
        dins = [g[i] for i in self.in_slots] if self.inputs_need_grad else None
        return dins, grads

    @staticmethod
    def _dy(s, g, vals):
        """The gradient reaching a step with several outputs (zeros for those without one) or
        with an activity regularizer (its penalty's gradient added); None when none reaches it."""
        if s.multi_out:
            dys = [g[o] for o in s.outs]
            if all(d is None for d in dys):
                return None
            dys = [np.zeros_like(vals[o]) if d is None else d for o, d in zip(s.outs, dys)]
            return pack_like(s.node.output_struct, dys)
        dy = g[s.outs]
        y = vals[s.outs]
        r = s.act.gradient(y) / np.float32(max(len(y), 1))
        return r if dy is None else dy + r


def symbolic_op(op, args, kwargs):
    """`pyconv.ops.<op>(*args, **kwargs)` on symbolic tensors: an OpLayer node."""
    from .layers.core import OpLayer
    tensors = []

    def template(a):
        if isinstance(a, KerasTensor):
            tensors.append(a)
            return {"__tensor__": len(tensors) - 1}
        if isinstance(a, (list, tuple)):
            return [template(v) for v in a]
        if isinstance(a, np.ndarray) and a.size <= 4096:
            return a.tolist()
        if isinstance(a, np.generic):
            return a.item()
        if a is None or isinstance(a, (bool, int, float, str)):
            return a
        raise TypeError(f"pyconv.ops.{op} on symbolic tensors takes tensors, numbers, strings and small "
                        f"arrays. Received: {type(a).__name__}.")
    t_args = [template(a) for a in args]
    t_kwargs = {k: template(v) for k, v in kwargs.items()}
    return OpLayer(op, t_args, t_kwargs)(tensors)
