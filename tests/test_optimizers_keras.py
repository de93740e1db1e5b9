"""Each optimizer, clipping, EMA, gradient accumulation, loss scaling and each schedule against
numbers from Keras 3 itself, on fixed float32 arrays for 5 steps; the argument names (the same
calls build both), the defaults and `get_config` keys, the slot names (Keras's optimizer
variables are `<weight>_<slot>`) and the slot values.

The numbers below were printed by this file run as a script in Keras's venv:

    KERAS_BACKEND=tensorflow /work/kvenv/bin/python tests/test_optimizers_keras.py

(Keras 3.15.1, TensorFlow backend, CPU). On the machine they were made on, pyconv reproduces
every one of them bit for bit except `ftrl_regularized` (its learning_rate_power -0.7 goes
through np.power, whose float32 power differs from TensorFlow's in the last bits). The test
allows 4 float32 ulps at each array's scale (4 * spacing(max |x|)): the rules are the same
float32 operations in the same order, and the per-step scalars use libm's powf for beta**t,
which another libm may round differently by an ulp; a wrong coefficient or order moves
results by far more. The schedules Keras evaluates in float32 (pyconv in float64): a few
float32 roundings, rtol 2e-6, plus 1e-8 absolute where a cosine passes near zero.
"""
import numpy as np

if __name__ != "__main__":   # run as a script, this file needs only NumPy and Keras
    import pytest

    from pyconv import optimizers
else:
    class pytest:   # noqa: N801 -- the decorators below, inert when generating the numbers
        class mark:  # noqa: N801
            @staticmethod
            def parametrize(*args, **kwargs):
                return lambda f: f

# ---- the problem: exact float32 values, the same in both frameworks ----------------------------
STEPS = 5
W0 = (np.arange(6, dtype=np.float32).reshape(2, 3) * 5 % 7 - 3) / 4
B0 = np.array([0.5, -0.25, 1.0], np.float32)


def problem_grads(step):
    """The gradients of step `step` (0-based): eighths in [-5/8, 5/8], some exactly 0."""
    g = ((np.arange(9, dtype=np.float32) * (step + 3)) % 11 - 5) / 8
    return [g[:6].reshape(2, 3), g[6:]]


# (id, class name, arguments): the same names in Keras and pyconv. A ("schedule", class, kwargs)
# argument is a learning-rate schedule of that framework.
RUNS = [
    ("sgd", "SGD", {}),
    ("sgd_momentum", "SGD", dict(learning_rate=0.1, momentum=0.9)),
    ("sgd_nesterov", "SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("sgd_weight_decay", "SGD", dict(learning_rate=0.1, weight_decay=0.01)),
    ("rmsprop", "RMSprop", {}),
    ("rmsprop_centered_momentum", "RMSprop", dict(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True)),
    ("adam", "Adam", dict(learning_rate=0.01)),
    ("adam_amsgrad", "Adam", dict(learning_rate=0.01, amsgrad=True)),
    ("adamw", "AdamW", dict(learning_rate=0.01, weight_decay=0.1)),
    ("nadam", "Nadam", dict(learning_rate=0.01)),
    ("nadam_weight_decay", "Nadam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3,
                                         weight_decay=0.05)),
    ("adagrad", "Adagrad", dict(learning_rate=0.1)),
    ("adagrad_weight_decay", "Adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.0,
                                             epsilon=1e-3, weight_decay=0.02)),
    ("adadelta", "Adadelta", dict(learning_rate=1.0)),
    ("adadelta_rho", "Adadelta", dict(learning_rate=0.5, rho=0.7, epsilon=1e-4, weight_decay=0.01)),
    ("adamax", "Adamax", dict(learning_rate=0.01)),
    ("adamax_betas", "Adamax", dict(learning_rate=0.02, beta_1=0.7, beta_2=0.9, epsilon=1e-3)),
    ("lion", "Lion", dict(learning_rate=0.01)),
    ("lion_weight_decay", "Lion", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.95, weight_decay=0.1)),
    ("ftrl", "Ftrl", {}),
    ("ftrl_regularized", "Ftrl", dict(learning_rate=0.1, learning_rate_power=-0.7, initial_accumulator_value=0.2,
                                      l1_regularization_strength=0.01, l2_regularization_strength=0.02,
                                      l2_shrinkage_regularization_strength=0.03, beta=0.1)),
    ("clipnorm", "SGD", dict(learning_rate=0.1, clipnorm=0.5)),
    ("global_clipnorm", "Adam", dict(learning_rate=0.01, global_clipnorm=0.7)),
    ("clipvalue", "RMSprop", dict(learning_rate=0.01, clipvalue=0.3)),
    ("ema", "SGD", dict(learning_rate=0.1, momentum=0.5, use_ema=True, ema_momentum=0.9)),
    ("ema_overwrite", "Adam", dict(learning_rate=0.01, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=2)),
    ("accumulation", "Adam", dict(learning_rate=0.01, gradient_accumulation_steps=2)),
    ("accumulation_nadam_ema", "Nadam", dict(learning_rate=0.01, gradient_accumulation_steps=3, use_ema=True,
                                             ema_momentum=0.5, ema_overwrite_frequency=1)),
    ("loss_scale", "SGD", dict(learning_rate=0.1, momentum=0.9, loss_scale_factor=8.0)),
    ("schedule", "RMSprop", dict(learning_rate=("schedule", "ExponentialDecay",
                                                dict(initial_learning_rate=0.01, decay_steps=2, decay_rate=0.5)))),
    ("schedule_accumulation", "SGD", dict(learning_rate=("schedule", "PiecewiseConstantDecay",
                                                         dict(boundaries=[1, 3], values=[0.1, 0.05, 0.01])),
                                          gradient_accumulation_steps=2)),
]

# (id, class name, arguments, steps at which the learning rate is read)
SCHEDULE_RUNS = [
    ("exponential", "ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
     [0, 1, 5, 10, 25]),
    ("exponential_staircase", "ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5,
                                                       staircase=True), [0, 9, 10, 25]),
    ("inverse_time", "InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5),
     [0, 1, 5, 12]),
    ("inverse_time_staircase", "InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5,
                                                        staircase=True), [0, 4, 5, 12]),
    ("piecewise", "PiecewiseConstantDecay", dict(boundaries=[3, 7], values=[1.0, 0.5, 0.1]), [0, 3, 4, 7, 8, 100]),
    ("polynomial", "PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=10, end_learning_rate=0.01,
                                           power=0.5), [0, 3, 10, 15]),
    ("polynomial_cycle", "PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=10, cycle=True),
     [0, 5, 10, 11, 25]),
    ("cosine", "CosineDecay", dict(initial_learning_rate=0.1, decay_steps=10, alpha=0.1), [0, 3, 10, 20]),
    ("cosine_warmup", "CosineDecay", dict(initial_learning_rate=0.0, decay_steps=10, warmup_target=0.2,
                                          warmup_steps=5), [0, 2, 5, 9, 15, 30]),
    ("cosine_restarts", "CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=4),
     [0, 1, 3, 4, 5, 11, 12, 13, 30]),
    ("cosine_restarts_t1", "CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=4, t_mul=1.0,
                                                       m_mul=0.5, alpha=0.1), [0, 2, 4, 6, 9]),
    ("cosine_restarts_t3", "CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=3, t_mul=3.0,
                                                       m_mul=0.9), [0, 2, 3, 7, 12, 13, 40]),
]

DEFAULTS = ["SGD", "RMSprop", "Adam", "AdamW", "Nadam", "Adagrad", "Adadelta", "Adamax", "Lion", "Ftrl"]


def build_args(module, kwargs):
    """kwargs with each ("schedule", class, kwargs) made a schedule of `module` (keras.optimizers
    or pyconv.optimizers)."""
    return {k: getattr(module.schedules, v[1])(**v[2]) if isinstance(v, tuple) else v for k, v in kwargs.items()}


def _keras_numbers():
    """Run every case in Keras 3 (TensorFlow backend) and print the dict pasted below."""
    import re
    import keras
    def f32list(a):
        return [float(np.format_float_positional(x, unique=True)) for x in np.asarray(a, np.float32).ravel()]
    runs = {}
    for rid, cls, kwargs in RUNS:
        opt = getattr(keras.optimizers, cls)(**build_args(keras.optimizers, kwargs))
        w, b = keras.Variable(W0, name="w"), keras.Variable(B0, name="b")
        for s in range(STEPS):
            opt.apply(problem_grads(s), [w, b])
        slots = {}
        for v in opt.variables[2 if not isinstance(opt._learning_rate, keras.optimizers.schedules.LearningRateSchedule) else 1:]:
            name = v.name.split("_", 1)[1] if v.name[:2] in ("w_", "b_") else "u_product"
            slots.setdefault(name, []).append(f32list(v.numpy()))
        runs[rid] = {"params": [f32list(w.numpy()), f32list(b.numpy())], "iterations": int(opt.iterations.numpy()),
                     "variables": slots}
    scheds = {rid: [float(np.float32(getattr(keras.optimizers.schedules, cls)(**kw)(s))) for s in steps]
              for rid, cls, kw, steps in SCHEDULE_RUNS}
    defaults = {}
    for cls in DEFAULTS:
        cfg = getattr(keras.optimizers, cls)().get_config()
        cfg["name"] = re.sub(r"_[0-9]+$", "", cfg["name"])   # Keras numbers repeated names
        cfg["learning_rate"] = float(np.format_float_positional(np.float32(cfg["learning_rate"]), unique=True))
        defaults[cls] = cfg
    import pprint
    print(f"# ---- printed by _keras_numbers(): Keras {keras.__version__}, backend {keras.backend.backend()} ----")
    print("KERAS_RUNS = " + pprint.pformat(runs, width=110, compact=True))
    print("KERAS_SCHEDULES = " + pprint.pformat(scheds, width=110, compact=True))
    print("KERAS_DEFAULTS = " + pprint.pformat(defaults, width=110, compact=True, sort_dicts=False))


# ---- printed by _keras_numbers(): Keras 3.15.1, backend tensorflow ----
KERAS_RUNS = {'accumulation': {'iterations': 2,
                  'params': [[-0.73000026, 0.51400185, -0.018305596, -0.5074409, 0.7646944, 0.23128982],
                             [0.50947315, -0.26783296, 0.9806788]],
                  'variables': {'gradient_accumulator': [[-0.625, 0.25, -0.25, 0.625, 0.125, -0.375],
                                                         [0.5, 0.0, -0.5]],
                                'momentum': [[-0.118750006, -0.010625001, 0.02875, 0.00625, -0.01625,
                                              0.023125],
                                             [0.00062500034, 0.040000003, 0.0175]],
                                'velocity': [[0.0007808594, 3.9027345e-05, 6.634375e-05, 3.90625e-06,
                                              6.634375e-05, 3.9027345e-05],
                                             [7.808594e-06, 0.00014439064, 1.9515626e-05]]}},
 'accumulation_nadam_ema': {'iterations': 1,
                            'params': [[-0.73937213, 0.51062787, -0.010627876, -0.48937213, 0.75, 0.23937215],
                                       [0.48937213, -0.26062787, 0.98937213]],
                            'variables': {'average': [[-0.73937213, 0.51062787, -0.010627876, -0.48937213,
                                                       0.75, 0.23937215],
                                                      [0.48937213, -0.26062787, 0.98937213]],
                                          'gradient_accumulator': [[-1.25, 0.375, -0.75, 0.875, -0.25, 0.0],
                                                                   [0.25, 0.5, -0.625]],
                                          'momentum': [[-0.062500015, -0.012500003, 0.03750001, -0.004166668,
                                                        0.0, 0.004166668],
                                                       [0.008333336, 0.012500003, 0.016666671]],
                                          'u_product': [[0.46799996]],
                                          'velocity': [[0.00039061997, 1.5624799e-05, 0.00014062319,
                                                        1.7360888e-06, 0.0, 1.7360888e-06],
                                                       [6.9443554e-06, 1.5624799e-05, 2.7777422e-05]]}},
 'adadelta': {'iterations': 5,
              'params': [[-0.74279416, 0.49986517, -0.0024703387, -0.5020816, 0.75072485, 0.2507143],
                         [0.49773803, -0.25207287, 1.0008148]],
              'variables': {'accumulated_delta_var': [[4.7068144e-07, 2.756798e-07, 7.456492e-07,
                                                       3.555257e-07, 2.4948616e-07, 5.92007e-07],
                                                      [6.206452e-07, 2.2150186e-07, 3.7299202e-07]],
                            'accumulated_grad': [[0.088366814, 0.007082343, 0.039291706, 0.044103593,
                                                  0.028923517, 0.027884772],
                                                 [0.030388203, 0.03479885, 0.038535103]]}},
 'adadelta_rho': {'iterations': 5,
                  'params': [[-0.68020487, 0.48463252, -0.013872159, -0.5020074, 0.7357813, 0.24938269],
                             [0.47288403, -0.25778097, 0.9809929]],
                  'variables': {'accumulated_delta_var': [[0.0003825778, 0.00023545783, 0.00046768997,
                                                           0.00027956945, 0.00016032167, 0.00042905926],
                                                          [0.00048407767, 0.0001462371, 0.00025857723]],
                                'accumulated_grad': [[0.3249727, 0.028140938, 0.14426766, 0.17634188,
                                                      0.08897625, 0.10775672],
                                                     [0.12776907, 0.102916405, 0.13779327]]}},
 'adagrad': {'iterations': 5,
             'params': [[-0.44668275, 0.5138502, -0.11022897, -0.5948495, 0.7991661, 0.23707834],
                        [0.42744055, -0.36296815, 1.0336564]],
             'variables': {'accumulator': [[2.053125, 0.25625, 0.959375, 1.06875, 0.75625, 0.709375],
                                           [0.75625, 0.896875, 0.959375]]}},
 'adagrad_weight_decay': {'iterations': 5,
                          'params': [[-0.42113817, 0.5340382, -0.19145694, -0.6027391, 0.80248016, 0.2842279],
                                     [0.3929159, -0.3714595, 1.0413207]],
                          'variables': {'accumulator': [[1.953125, 0.15625, 0.859375, 0.96875, 0.65625,
                                                         0.609375],
                                                        [0.65625, 0.796875, 0.859375]]}},
 'adam': {'iterations': 5,
          'params': [[-0.7000006, 0.52805585, -0.032298468, -0.5126537, 0.7688591, 0.24906603],
                     [0.48700827, -0.27878582, 1.0015442]],
          'variables': {'momentum': [[-0.25594375, 0.010735001, 0.016163757, 0.071229994, -0.013554998,
                                      0.0042487495],
                                     [0.046940003, 0.06474375, -0.020041253]],
                        'velocity': [[0.0019492228, 0.00015593793, 0.0008578603, 0.0009669085, 0.0006546112,
                                      0.0006082978],
                                     [0.0006552354, 0.00079473696, 0.0008575021]]}},
 'adam_amsgrad': {'iterations': 5,
                  'params': [[-0.7000006, 0.5280523, -0.032298468, -0.5126537, 0.76885575, 0.24906603],
                             [0.48700827, -0.27878386, 1.0015442]],
                  'variables': {'momentum': [[-0.25594375, 0.010735001, 0.016163757, 0.071229994,
                                              -0.013554998, 0.0042487495],
                                             [0.046940003, 0.06474375, -0.020041253]],
                                'velocity': [[0.0019492228, 0.00015593793, 0.0008578603, 0.0009669085,
                                              0.0006546112, 0.0006082978],
                                             [0.0006552354, 0.00079473696, 0.0008575021]],
                                'velocity_hat': [[0.0019492228, 0.00015593793, 0.0008578603, 0.0009669085,
                                                  0.0006546112, 0.0006082978],
                                                 [0.0006552354, 0.0007955325, 0.0008575021]]}},
 'adamax': {'iterations': 5,
            'params': [[-0.70000005, 0.5228351, -0.025885405, -0.5115661, 0.76638913, 0.25228027],
                       [0.48771507, -0.27313396, 1.0038058]],
            'variables': {'momentum': [[-0.25594375, 0.010735001, 0.016163757, 0.071229994, -0.013554998,
                                        0.0042487495],
                                       [0.046940003, 0.06474375, -0.020041253]],
                          'norm': [[0.625, 0.25, 0.6237506, 0.625, 0.49900052, 0.49850154],
                                   [0.5, 0.62250376, 0.62312686]]}},
 'adamax_betas': {'iterations': 5,
                  'params': [[-0.65015984, 0.53916836, -0.04853203, -0.5214296, 0.7781051, 0.25334334],
                             [0.4762879, -0.29588023, 1.0063311]],
                  'variables': {'momentum': [[-0.51995623, 0.07038, -0.040533744, 0.20618999, -0.0037649907,
                                              -0.028053738],
                                             [0.132045, 0.10775625, -0.10219875]],
                                'norm': [[0.625, 0.25, 0.50624996, 0.625, 0.40499997, 0.375],
                                         [0.5, 0.45, 0.5]]}},
 'adamw': {'iterations': 5,
           'params': [[-0.69635797, 0.5254755, -0.032209676, -0.51012254, 0.76505613, 0.24780148],
                      [0.4845507, -0.27746546, 0.99653405]],
           'variables': {'momentum': [[-0.25594375, 0.010735001, 0.016163757, 0.071229994, -0.013554998,
                                       0.0042487495],
                                      [0.046940003, 0.06474375, -0.020041253]],
                         'velocity': [[0.0019492228, 0.00015593793, 0.0008578603, 0.0009669085, 0.0006546112,
                                       0.0006082978],
                                      [0.0006552354, 0.00079473696, 0.0008575021]]}},
 'clipnorm': {'iterations': 5,
              'params': [[-0.5967241, 0.50033045, -0.017167587, -0.5376468, 0.7641486, 0.24317351],
                         [0.46361887, -0.31067038, 1.0070217]],
              'variables': {}},
 'clipvalue': {'iterations': 5,
               'params': [[-0.6435475, 0.50980574, -0.049767565, -0.5339429, 0.76935285, 0.26985458],
                          [0.47185737, -0.29078877, 1.0182538]],
               'variables': {'velocity': [[0.0368559, 0.012895936, 0.029226156, 0.028356526, 0.022857402,
                                           0.029748656],
                                          [0.032576624, 0.022433963, 0.027934652]]}},
 'ema': {'iterations': 5,
         'params': [[-0.24609375, 0.5281249, -0.10390625, -0.5812501, 0.80312496, 0.20546873],
                    [0.44375, -0.40390626, 0.98046875]],
         'variables': {'average': [[-0.5912438, 0.5329849, -0.046036255, -0.54387754, 0.801685, 0.24342623],
                                   [0.4748225, -0.33343625, 1.0121263]],
                       'momentum': [[0.12109375, -0.028125001, 0.02890625, -0.06875, -0.0031249998,
                                     0.01953125],
                                    [-0.04375, -0.02109375, 0.044531252]]}},
 'ema_overwrite': {'iterations': 5,
                   'params': [[-0.7224003, 0.5135776, -0.016691463, -0.5134496, 0.7623654, 0.25739893],
                              [0.48645273, -0.26726344, 1.008578]],
                   'variables': {'average': [[-0.7304002, 0.5147639, -0.015929902, -0.5102885, 0.76163435,
                                              0.25763667],
                                             [0.48898327, -0.26409417, 1.0076334]],
                                 'momentum': [[-0.25594375, 0.010735001, 0.016163757, 0.071229994,
                                               -0.013554998, 0.0042487495],
                                              [0.046940003, 0.06474375, -0.020041253]],
                                 'velocity': [[0.0019492228, 0.00015593793, 0.0008578603, 0.0009669085,
                                               0.0006546112, 0.0006082978],
                                              [0.0006552354, 0.00079473696, 0.0008575021]]}},
 'ftrl': {'iterations': 5,
          'params': [[-0.40836734, 0.10790624, -0.00110229, -0.23368724, 0.3495998, 0.017375518],
                     [0.107042134, -0.13826317, 0.35567817]],
          'variables': {'accumulator': [[2.053125, 0.25625, 0.959375, 1.06875, 0.75625, 0.709375],
                                        [0.75625, 0.896875, 0.959375]],
                        'linear': [[585.1385, -54.623363, 1.0796676, 241.58673, -304.02118, -14.634426],
                                   [-93.086655, 130.94003, -348.37854]]}},
 'ftrl_regularized': {'iterations': 5,
                      'params': [[-0.08043883, 0.06369749, -0.087920584, -0.25336447, 0.30060264,
                                  -0.008244746],
                                 [0.0, -0.2061673, 0.26344573]],
                      'variables': {'accumulator': [[2.153125, 0.35625, 1.059375, 1.16875, 0.85625, 0.809375],
                                                    [0.85625, 0.996875, 1.059375]],
                                    'linear': [[1.469643, -0.38552457, 1.0168679, 3.0993605, -3.019206,
                                                0.08967659],
                                               [-0.0058417916, 2.2815747, -3.0269847]]}},
 'global_clipnorm': {'iterations': 5,
                     'params': [[-0.6999423, 0.52763313, -0.031807754, -0.5128782, 0.76877064, 0.24903932],
                                [0.4869736, -0.27866542, 1.0015793]],
                     'variables': {'momentum': [[-0.14667729, 0.0066407705, 0.007792417, 0.04085584,
                                                 -0.008261498, 0.0033818781],
                                                [0.025953574, 0.03759695, -0.011520388]],
                                   'velocity': [[0.00063847157, 4.9476905e-05, 0.00029113804, 0.0003047402,
                                                 0.00021817678, 0.00019842813],
                                                [0.0002111945, 0.00026505988, 0.00026841921]]}},
 'lion': {'iterations': 5,
          'params': [[-0.70000005, 0.51, -0.01, -0.51, 0.76, 0.26], [0.49, -0.27999997, 1.01]],
          'variables': {'momentum': [[-0.03063119, 0.00012313598, 0.0035149879, 0.007451353, -0.002364978,
                                      0.0011629988],
                                     [0.0049632387, 0.008491215, -0.0013251149]]}},
 'lion_weight_decay': {'iterations': 5,
                       'params': [[-0.6963574, 0.5074251, -0.009920102, -0.50750506, 0.7561976, 0.2587325],
                                  [0.48752496, -0.27869254, 1.0050101]],
                       'variables': {'momentum': [[-0.14138694, 0.0028975802, 0.013119575, 0.036412664,
                                                   -0.009362657, 0.004124962],
                                                  [0.024152428, 0.03764005, -0.008135276]]}},
 'loss_scale': {'iterations': 5,
                'params': [[-0.6473117, 0.51207685, -0.028690783, -0.5136162, 0.7660007, 0.23915485],
                           [0.4903075, -0.28653827, 0.9930786]],
                'variables': {'momentum': [[0.03199297, -0.0013418751, -0.0020204687, -0.008903749,
                                            0.0016943746, -0.0005310937],
                                           [-0.0058675, -0.008092969, 0.0025051564]]}},
 'nadam': {'iterations': 5,
           'params': [[-0.71040225, 0.5061463, -0.022281885, -0.5132485, 0.7580802, 0.25372732],
                      [0.48756146, -0.26624724, 1.0057042]],
           'variables': {'momentum': [[-0.2559438, 0.010735007, 0.016163748, 0.071230024, -0.0135550015,
                                       0.0042487495],
                                      [0.046940014, 0.064743765, -0.020041253]],
                         'u_product': [[0.031461526]],
                         'velocity': [[0.0019491976, 0.00015593591, 0.00085784926, 0.0009668961, 0.0006546027,
                                       0.00060828996],
                                      [0.0006552269, 0.0007947267, 0.00085749105]]}},
 'nadam_weight_decay': {'iterations': 5,
                        'params': [[-0.70305896, 0.50463355, -0.023976805, -0.5134049, 0.75656784,
                                    0.25263467],
                                   [0.48510662, -0.26738894, 1.003252]],
                        'variables': {'momentum': [[-0.42020002, 0.036719996, -0.0013599992, 0.13875999,
                                                    -0.01196, -0.0060399994],
                                                   [0.09007999, 0.09599999, -0.05472]],
                                      'u_product': [[0.017458916]],
                                      'velocity': [[0.019144494, 0.0015316678, 0.008443084, 0.00950537,
                                                    0.006400172, 0.005986835],
                                                   [0.0064618653, 0.0077571957, 0.008408311]]}},
 'rmsprop': {'iterations': 5,
             'params': [[-0.7393547, 0.50098056, -0.0061040744, -0.50364, 0.75185966, 0.251338],
                        [0.49663997, -0.2540128, 1.0017914]],
             'variables': {'velocity': [[0.15996483, 0.012895936, 0.07166734, 0.08058062, 0.050871246,
                                         0.051031407],
                                        [0.056367807, 0.060658593, 0.06917171]]}},
 'rmsprop_centered_momentum': {'iterations': 5,
                               'params': [[-0.5756821, 0.5380871, -0.11192242, -0.5412679, 0.78174645,
                                           0.26419038],
                                          [0.45922112, -0.30942234, 1.0174915]],
                               'variables': {'average_gradient': [[-0.42020002, 0.036719996, -0.0013599917,
                                                                   0.13876, -0.011960002, -0.0060399994],
                                                                  [0.09008, 0.09600001, -0.054719996]],
                                             'momentum': [[-0.04064091, 0.020189583, -0.003233274,
                                                           0.021245958, 0.0011189152, -0.0067660846],
                                                          [0.014655814, 0.006848449, -0.014306898]],
                                             'velocity': [[0.26262504, 0.02172, 0.11818001, 0.136205,
                                                           0.078105, 0.085505],
                                                          [0.09752, 0.0916, 0.11202]]}},
 'schedule': {'iterations': 5,
              'params': [[-0.68261486, 0.53140163, -0.05762634, -0.52205116, 0.774149, 0.26468801],
                         [0.47622764, -0.28440598, 1.0134971]],
              'variables': {'velocity': [[0.15996483, 0.012895936, 0.07166734, 0.08058062, 0.050871246,
                                          0.051031407],
                                         [0.056367807, 0.060658593, 0.06917171]]}},
 'schedule_accumulation': {'iterations': 2,
                           'params': [[-0.65625, 0.515625, -0.028125001, -0.503125, 0.77187496, 0.228125],
                                      [0.503125, -0.290625, 0.984375]],
                           'variables': {'gradient_accumulator': [[-0.625, 0.25, -0.25, 0.625, 0.125, -0.375],
                                                                  [0.5, 0.0, -0.5]]}},
 'sgd': {'iterations': 5,
         'params': [[-0.7187499, 0.5, -0.0037499997, -0.50750005, 0.7525, 0.24875],
                    [0.49500006, -0.25875, 1.00125]],
         'variables': {}},
 'sgd_momentum': {'iterations': 5,
                  'params': [[0.07150622, 0.596615, -0.22952627, -0.60893, 0.87800497, 0.16323875],
                             [0.42246002, -0.54230624, 0.9446288]],
                  'variables': {'momentum': [[0.25594375, -0.0107350005, -0.01616375, -0.071229994,
                                              0.013554997, -0.0042487495],
                                             [-0.04694, -0.06474375, 0.020041252]]}},
 'sgd_nesterov': {'iterations': 5,
                  'params': [[0.30185556, 0.5869535, -0.24407363, -0.673037, 0.8902045, 0.15941489],
                             [0.38021398, -0.6005756, 0.9626659]],
                  'variables': {'momentum': [[0.25594375, -0.0107350005, -0.01616375, -0.071229994,
                                              0.013554997, -0.0042487495],
                                             [-0.04694, -0.06474375, 0.020041252]]}},
 'sgd_weight_decay': {'iterations': 5,
                      'params': [[-0.4343818, 0.4973801, -0.037262753, -0.5724551, 0.77112025, 0.23633996],
                                 [0.44754246, -0.33599043, 1.0075849]],
                      'variables': {}}}
KERAS_SCHEDULES = {'cosine': [0.10000000149011612, 0.08145033568143845, 0.010000000707805157, 0.010000000707805157],
 'cosine_restarts': [0.10000000149011612, 0.08535534143447876, 0.014644661918282509, 0.10000000149011612,
                     0.09619397670030594, 0.0038060189690440893, 0.10000000149011612, 0.09903926402330399,
                     0.09903926402330399],
 'cosine_restarts_t1': [0.10000000149011612, 0.05499999597668648, 0.055000003427267075, 0.032499998807907104,
                        0.029204953461885452],
 'cosine_restarts_t3': [0.10000000149011612, 0.02499999664723873, 0.08999999612569809, 0.052814166992902756,
                        0.08099999278783798, 0.08072614669799805, 0.0728725790977478],
 'cosine_warmup': [0.0, 0.08000000566244125, 0.20000000298023224, 0.13090169429779053, 0.0, 0.0],
 'exponential': [0.10000000149011612, 0.09330330044031143, 0.0707106813788414, 0.05000000074505806,
                 0.01767767034471035],
 'exponential_staircase': [0.10000000149011612, 0.10000000149011612, 0.05000000074505806,
                           0.02500000037252903],
 'inverse_time': [0.10000000149011612, 0.09090909361839294, 0.06666667014360428, 0.04545454680919647],
 'inverse_time_staircase': [0.10000000149011612, 0.10000000149011612, 0.06666667014360428,
                            0.05000000074505806],
 'piecewise': [1.0, 1.0, 0.5, 0.5, 0.10000000149011612, 0.10000000149011612],
 'polynomial': [0.10000000149011612, 0.08529940247535706, 0.009999999776482582, 0.009999999776482582],
 'polynomial_cycle': [0.10000000149011612, 0.050050001591444016, 9.999999747378752e-05, 0.045055001974105835,
                      0.016750002279877663]}
KERAS_DEFAULTS = {'SGD': {'name': 'sgd',
         'learning_rate': 0.01,
         'weight_decay': None,
         'clipnorm': None,
         'global_clipnorm': None,
         'clipvalue': None,
         'use_ema': False,
         'ema_momentum': 0.99,
         'ema_overwrite_frequency': None,
         'loss_scale_factor': None,
         'gradient_accumulation_steps': None,
         'momentum': 0.0,
         'nesterov': False},
 'RMSprop': {'name': 'rm_sprop',
             'learning_rate': 0.001,
             'weight_decay': None,
             'clipnorm': None,
             'global_clipnorm': None,
             'clipvalue': None,
             'use_ema': False,
             'ema_momentum': 0.99,
             'ema_overwrite_frequency': None,
             'loss_scale_factor': None,
             'gradient_accumulation_steps': None,
             'rho': 0.9,
             'momentum': 0.0,
             'epsilon': 1e-07,
             'centered': False},
 'Adam': {'name': 'adam',
          'learning_rate': 0.001,
          'weight_decay': None,
          'clipnorm': None,
          'global_clipnorm': None,
          'clipvalue': None,
          'use_ema': False,
          'ema_momentum': 0.99,
          'ema_overwrite_frequency': None,
          'loss_scale_factor': None,
          'gradient_accumulation_steps': None,
          'beta_1': 0.9,
          'beta_2': 0.999,
          'epsilon': 1e-07,
          'amsgrad': False},
 'AdamW': {'name': 'adam_w',
           'learning_rate': 0.001,
           'weight_decay': 0.004,
           'clipnorm': None,
           'global_clipnorm': None,
           'clipvalue': None,
           'use_ema': False,
           'ema_momentum': 0.99,
           'ema_overwrite_frequency': None,
           'loss_scale_factor': None,
           'gradient_accumulation_steps': None,
           'beta_1': 0.9,
           'beta_2': 0.999,
           'epsilon': 1e-07,
           'amsgrad': False},
 'Nadam': {'name': 'nadam',
           'learning_rate': 0.001,
           'weight_decay': None,
           'clipnorm': None,
           'global_clipnorm': None,
           'clipvalue': None,
           'use_ema': False,
           'ema_momentum': 0.99,
           'ema_overwrite_frequency': None,
           'loss_scale_factor': None,
           'gradient_accumulation_steps': None,
           'beta_1': 0.9,
           'beta_2': 0.999,
           'epsilon': 1e-07},
 'Adagrad': {'name': 'adagrad',
             'learning_rate': 0.001,
             'weight_decay': None,
             'clipnorm': None,
             'global_clipnorm': None,
             'clipvalue': None,
             'use_ema': False,
             'ema_momentum': 0.99,
             'ema_overwrite_frequency': None,
             'loss_scale_factor': None,
             'gradient_accumulation_steps': None,
             'initial_accumulator_value': 0.1,
             'epsilon': 1e-07},
 'Adadelta': {'name': 'adadelta',
              'learning_rate': 0.001,
              'weight_decay': None,
              'clipnorm': None,
              'global_clipnorm': None,
              'clipvalue': None,
              'use_ema': False,
              'ema_momentum': 0.99,
              'ema_overwrite_frequency': None,
              'loss_scale_factor': None,
              'gradient_accumulation_steps': None,
              'rho': 0.95,
              'epsilon': 1e-07},
 'Adamax': {'name': 'adamax',
            'learning_rate': 0.001,
            'weight_decay': None,
            'clipnorm': None,
            'global_clipnorm': None,
            'clipvalue': None,
            'use_ema': False,
            'ema_momentum': 0.99,
            'ema_overwrite_frequency': None,
            'loss_scale_factor': None,
            'gradient_accumulation_steps': None,
            'beta_1': 0.9,
            'beta_2': 0.999,
            'epsilon': 1e-07},
 'Lion': {'name': 'lion',
          'learning_rate': 0.001,
          'weight_decay': None,
          'clipnorm': None,
          'global_clipnorm': None,
          'clipvalue': None,
          'use_ema': False,
          'ema_momentum': 0.99,
          'ema_overwrite_frequency': None,
          'loss_scale_factor': None,
          'gradient_accumulation_steps': None,
          'beta_1': 0.9,
          'beta_2': 0.99},
 'Ftrl': {'name': 'ftrl',
          'learning_rate': 0.001,
          'weight_decay': None,
          'clipnorm': None,
          'global_clipnorm': None,
          'clipvalue': None,
          'use_ema': False,
          'ema_momentum': 0.99,
          'ema_overwrite_frequency': None,
          'loss_scale_factor': None,
          'gradient_accumulation_steps': None,
          'learning_rate_power': -0.5,
          'initial_accumulator_value': 0.1,
          'l1_regularization_strength': 0.0,
          'l2_regularization_strength': 0.0,
          'l2_shrinkage_regularization_strength': 0.0,
          'beta': 0.0}}


# ---- the tests ------------------------------------------------------------------------------------

def _pyconv_run(cls, kwargs):
    opt = getattr(optimizers, cls)(**build_args(optimizers, kwargs))
    w, b = W0.copy(), B0.copy()
    for s in range(STEPS):
        opt.apply(problem_grads(s), [w, b])
    return opt, [w, b]


def _by_keras_name(opt):
    """pyconv's state arrays under Keras's variable names (without the weight's prefix)."""
    named = {"average": opt._averages, "gradient_accumulator": opt._accumulators,
             **dict(zip(opt._slot_names, opt._slots)), **dict(zip(opt._extra_init, ([a] for a in opt._extras)))}
    return {k: v for k, v in named.items() if len(v)}


def _assert_close(got, want, what):
    want = np.asarray(want, np.float32).reshape(np.shape(got))
    tol = 4 * np.spacing(np.float32(max(np.abs(want).max(), np.finfo(np.float32).tiny)))
    diff = np.abs(got.astype(np.float64) - want)
    assert diff.max() <= tol, f"{what}: largest difference {diff.max():.3g} at {np.unravel_index(diff.argmax(), diff.shape)} (tolerance {tol:.3g})"


@pytest.mark.parametrize("rid,cls,kwargs", RUNS, ids=[r[0] for r in RUNS])
def test_matches_keras(rid, cls, kwargs):
    want = KERAS_RUNS[rid]
    opt, params = _pyconv_run(cls, kwargs)
    assert opt.iterations == want["iterations"]
    for i, p in enumerate(params):
        _assert_close(p, want["params"][i], f"{rid} parameter {i}")
    mine = _by_keras_name(opt)
    assert sorted(mine) == sorted(want["variables"])   # Keras's slot names, no more, no fewer
    for name, arrays in want["variables"].items():
        for i, (a, w) in enumerate(zip(mine[name], arrays)):
            _assert_close(a, w, f"{rid} {name} {i}")


@pytest.mark.parametrize("rid,cls,kwargs,steps", SCHEDULE_RUNS, ids=[r[0] for r in SCHEDULE_RUNS])
def test_schedules_match_keras(rid, cls, kwargs, steps):
    s = getattr(optimizers.schedules, cls)(**kwargs)
    np.testing.assert_allclose([s(t) for t in steps], KERAS_SCHEDULES[rid], rtol=2e-6, atol=1e-8)


@pytest.mark.parametrize("cls", DEFAULTS)
def test_defaults_and_config_keys_match_keras(cls):
    """The same keys in the same order, the same default values; the names differ only where
    Keras's automatic snake case gives 'rm_sprop' and 'adam_w' (pyconv: 'rmsprop', 'adamw')."""
    want = dict(KERAS_DEFAULTS[cls])
    got = getattr(optimizers, cls)().get_config()
    assert list(got) == list(want)
    want["name"] = {"rm_sprop": "rmsprop", "adam_w": "adamw"}.get(want["name"], want["name"])
    assert got == want


if __name__ == "__main__":
    _keras_numbers()
