"""Camera sources: RTSP, HTTP MJPEG, video files, folders of images."""
