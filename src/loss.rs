//! The A-Softmax loss and its gradients (in progress).
