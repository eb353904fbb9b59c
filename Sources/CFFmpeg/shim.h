#ifndef REEL_CFFMPEG_SHIM_H
#define REEL_CFFMPEG_SHIM_H

#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

// AVERROR is a function-like macro, which Swift cannot import.
static inline int CFFmpeg_AVERROR(int posixError) { return AVERROR(posixError); }

// AVERROR_EOF is built with FFERRTAG, a function-like macro.
static inline int CFFmpeg_AVERROR_EOF(void) { return AVERROR_EOF; }

// AV_NOPTS_VALUE is a cast expression Swift does not import.
static inline int64_t CFFmpeg_AV_NOPTS_VALUE(void) { return AV_NOPTS_VALUE; }

#endif
