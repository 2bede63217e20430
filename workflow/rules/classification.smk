# Supp Fig S7 and Fig 4: RF/SVM on CICs vs PCA, the classifier autoencoder, noise robustness (issue 6).
