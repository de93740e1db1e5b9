# Pooling wrappers (csrc/pool2d.c), included into _kernels.pyx.
